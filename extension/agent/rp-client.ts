// The agent's two calls to the RP: the NDJSON feed (streamed) and status reports. Plain
// node:http(s) so a private CA (the dev stand-in's) can be trusted without touching global TLS.
import http from 'node:http';
import https from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import {
  agentFeedPath,
  agentStatusPath,
  feedEventContract,
  statusResultsContract,
  type FeedEvent,
  type StatusReport,
} from '../../src/api/agent-protocol.js';

export interface RpClientOptions {
  /** Base URL of the RP (or ARM front door), e.g. https://127.0.0.1:8443. */
  url: string;
  clusterId: string;
  credential: TokenCredential;
  scope: string;
  /** PEM of a CA to trust for the RP's certificate, besides the system ones. */
  ca?: string;
  /** A watch that sends nothing (not even a bookmark) for this long is presumed dead. */
  idleTimeoutMs?: number;
}

/** An HTTP failure from the RP; `status` 410 means the feed position is gone. */
export class RpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpError';
  }
}

export interface RpClient {
  /** Streams the feed (relist when `since` is undefined) until the server ends it or the signal aborts. */
  streamFeed(since: number | undefined, onEvent: (event: FeedEvent) => void, signal: AbortSignal): Promise<void>;
  /** Sends reports; resolves with the ids (lower-cased) the RP asked to hear again later (`pending`). */
  postStatus(reports: StatusReport[]): Promise<string[]>;
}

export function createRpClient(options: RpClientOptions): RpClient {
  const origin = options.url.replace(/\/$/, '');
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;

  async function request(
    method: string,
    url: string,
    body: string | undefined,
    signal?: AbortSignal,
    ownConnection = false,
  ): Promise<http.IncomingMessage> {
    const token = await options.credential.getToken(options.scope);
    if (!token) throw new RpError(401, 'the credential returned no token');
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(
        target,
        {
          method,
          signal,
          // A watch holds its connection for minutes: it gets its own instead of a pooled one.
          ...(ownConnection ? { agent: false } : {}),
          headers: {
            authorization: `Bearer ${token.token}`,
            accept: 'application/x-ndjson, application/json',
            ...(body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          },
          ...(options.ca
            ? { ca: [...(https.globalAgent.options.ca ? [https.globalAgent.options.ca].flat() : []), options.ca] }
            : {}),
        },
        resolve,
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function failure(response: http.IncomingMessage): Promise<RpError> {
    let text = '';
    for await (const chunk of response) text += chunk;
    return new RpError(response.statusCode ?? 0, `RP answered ${response.statusCode}: ${text.slice(0, 500)}`);
  }

  return {
    async streamFeed(since, onEvent, signal) {
      const query = since === undefined ? '?watch=1' : `?since=${since}&watch=1`;
      const idle = new AbortController();
      const response = await request(
        'GET',
        `${origin}${agentFeedPath(options.clusterId)}${query}`,
        undefined,
        AbortSignal.any([signal, idle.signal]),
        true,
      );
      if (response.statusCode !== 200) throw await failure(response);
      let timer = setTimeout(() => idle.abort(), idleTimeoutMs);
      let buffer = '';
      try {
        response.setEncoding('utf8');
        for await (const chunk of response as AsyncIterable<string>) {
          clearTimeout(timer);
          timer = setTimeout(() => idle.abort(), idleTimeoutMs);
          buffer += chunk;
          let newline: number;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).trim();
            buffer = buffer.slice(newline + 1);
            if (line) onEvent(feedEventContract.parse(JSON.parse(line)));
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        if (idle.signal.aborted) throw new RpError(0, `the feed sent nothing for ${idleTimeoutMs} ms`);
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },

    async postStatus(reports) {
      const response = await request(
        'POST',
        `${origin}${agentStatusPath(options.clusterId)}`,
        JSON.stringify({ reports }),
      );
      if (response.statusCode !== 200) throw await failure(response);
      let text = '';
      response.setEncoding('utf8');
      for await (const chunk of response as AsyncIterable<string>) text += chunk;
      const { results } = statusResultsContract.parse(JSON.parse(text));
      return results.filter((r) => r.outcome === 'pending').map((r) => r.resourceId.toLowerCase());
    },
  };
}
