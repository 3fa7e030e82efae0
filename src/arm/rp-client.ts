import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';

/** A parsed JSON body from a peer; every reader checks the fields it uses. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, read defensively
export type JsonBody = any;

/** One HTTP exchange with the RP, body as text (forwarded byte for byte). */
export interface RpExchange {
  status: number;
  headers: Headers;
  text: string;
}

export interface RpClient {
  /** Sends a request to the RP as ARM does: the FD's own token replaces the caller's [AUTH-4 jwt]. */
  send(method: string, pathAndQuery: string, headers: Record<string, string>, body?: string): Promise<RpExchange>;
  /** GET/PUT/... with JSON in and out, Referer set to the public URL; for the FD's own calls (cascade, deployments, polling). */
  json(method: string, pathAndQuery: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: JsonBody }>;
}

export interface RpClientOptions {
  /** The RP's base URL (loopback), known once it listens. */
  url: () => string;
  /** The FD's public URL, for Referer. */
  publicUrl: () => string;
  /** The FD's identity: a client-credentials credential against the identity stand-in. */
  credential: TokenCredential;
  /** The RP's app id URI; tokens are asked for `${audience}/.default`. */
  audience: string;
}

export function createRpClient(options: RpClientOptions): RpClient {
  const scope = `${options.audience.replace(/\/+$/, '')}/.default`;
  const send: RpClient['send'] = async (method, pathAndQuery, headers, body) => {
    const token = await options.credential.getToken(scope);
    if (!token) throw new Error('the front door could not get a token for the RP');
    const response = await fetch(`${options.url()}${pathAndQuery}`, {
      method,
      headers: { ...headers, authorization: `Bearer ${token.token}` },
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
      redirect: 'manual',
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
  return {
    send,
    async json(method, pathAndQuery, body, headers = {}) {
      const exchange = await send(
        method,
        pathAndQuery,
        {
          referer: `${options.publicUrl()}${pathAndQuery}`,
          'x-ms-correlation-request-id': randomUUID(),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body === undefined ? undefined : JSON.stringify(body),
      );
      let parsed: unknown;
      try {
        parsed = exchange.text ? JSON.parse(exchange.text) : undefined;
      } catch {
        parsed = exchange.text;
      }
      return { status: exchange.status, headers: exchange.headers, body: parsed };
    },
  };
}
