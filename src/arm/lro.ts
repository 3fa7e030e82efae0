import { setTimeout as delay } from 'node:timers/promises';
import type { ErrorBody } from '../common/errors.js';
import type { JsonBody, RpClient } from './rp-client.js';

export interface LroOutcome {
  status: 'Succeeded' | 'Failed' | 'Canceled';
  error?: ErrorBody;
  /** The resource after a successful PUT (final GET), if any. */
  resource?: Record<string, unknown>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);

/**
 * Follows an RP async operation the way the SDKs do [LRO-1..5]: the Azure-AsyncOperation status
 * URL first, then Location, then the resource's provisioningState. Polling waits Retry-After
 * seconds (capped by `maxPollMs`): the RP offers no push channel to ARM, only this contract.
 */
export async function followOperation(
  rp: Pick<RpClient, 'json'>,
  first: { status: number; headers: Headers; body: JsonBody },
  resourcePath: string,
  options: {
    method: 'PUT' | 'DELETE' | 'PATCH';
    maxPollMs?: number;
    signal?: AbortSignal;
    headers?: Record<string, string>;
  },
): Promise<LroOutcome> {
  const maxPollMs = options.maxPollMs ?? 5000;
  const wait = (headers: Headers) =>
    delay(Math.min(maxPollMs, 1000 * Number(headers.get('retry-after') ?? 1) || 1000), undefined, {
      signal: options.signal,
    });
  const pathOf = (url: string) => {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  };
  if (first.status >= 400) return { status: 'Failed', error: errorOf(first.body, first.status) };

  const statusUrl = first.headers.get('azure-asyncoperation');
  if (statusUrl) {
    let headers = first.headers;
    let path = pathOf(statusUrl);
    for (;;) {
      await wait(headers);
      const poll = await rp.json('GET', path, undefined, options.headers);
      if (poll.status >= 400) return { status: 'Failed', error: errorOf(poll.body, poll.status) };
      const status = String(poll.body?.status ?? '').toLowerCase();
      if (TERMINAL.has(status)) {
        if (status !== 'succeeded')
          return { status: status === 'failed' ? 'Failed' : 'Canceled', error: poll.body?.error };
        break;
      }
      headers = poll.headers;
      const next = poll.headers.get('azure-asyncoperation');
      if (next) path = pathOf(next);
    }
  } else if (first.status === 202 && first.headers.get('location')) {
    let headers = first.headers;
    let path = pathOf(first.headers.get('location')!);
    for (;;) {
      await wait(headers);
      const poll = await rp.json('GET', path, undefined, options.headers);
      if (poll.status >= 400) return { status: 'Failed', error: errorOf(poll.body, poll.status) };
      if (poll.status !== 202) return { status: 'Succeeded', resource: poll.body };
      headers = poll.headers;
      if (poll.headers.get('location')) path = pathOf(poll.headers.get('location')!);
    }
  } else if (options.method === 'PUT') {
    let state = String(first.body?.properties?.provisioningState ?? 'Succeeded');
    let headers = first.headers;
    while (!TERMINAL.has(state.toLowerCase())) {
      await wait(headers);
      const poll = await rp.json('GET', resourcePath, undefined, options.headers);
      if (poll.status >= 400) return { status: 'Failed', error: errorOf(poll.body, poll.status) };
      state = String(poll.body?.properties?.provisioningState ?? 'Succeeded');
      headers = poll.headers;
      if (TERMINAL.has(state.toLowerCase())) {
        return state.toLowerCase() === 'succeeded'
          ? { status: 'Succeeded', resource: poll.body }
          : { status: 'Failed', error: { code: 'ResourceDeploymentFailure', message: `provisioningState ${state}` } };
      }
    }
    return { status: 'Succeeded', resource: first.body };
  } else {
    return { status: 'Succeeded', resource: first.body };
  }

  if (options.method === 'DELETE') return { status: 'Succeeded' };
  const final = await rp.json('GET', resourcePath, undefined, options.headers);
  return final.status === 200 ? { status: 'Succeeded', resource: final.body } : { status: 'Succeeded' };
}

export function errorOf(body: JsonBody, status: number): ErrorBody {
  const error = body?.error;
  if (error && typeof error.code === 'string') return error as ErrorBody;
  return {
    code: status >= 500 ? 'InternalServerError' : 'BadRequest',
    message: typeof body === 'string' ? body : `HTTP ${status}`,
  };
}
