import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/core-auth';

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
  json(
    method: string,
    pathAndQuery: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: JsonBody }>;
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

/** A cached token is renewed this long before it expires, as MSAL and the SDKs do. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

export function createRpClient(options: RpClientOptions): RpClient {
  const scope = `${options.audience.replace(/\/+$/, '')}/.default`;
  const token = cachedToken(options.credential, scope);
  const send: RpClient['send'] = async (method, pathAndQuery, headers, body) => {
    const response = await fetch(`${options.url()}${pathAndQuery}`, {
      method,
      headers: { ...headers, authorization: `Bearer ${await token()}` },
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

/**
 * The front door's own token for the RP, kept until shortly before it expires. Every forwarded
 * request needs it, and even MSAL's in-memory cache (the credential's) rebuilds its authority and
 * searches its cache on each call. Concurrent callers share one request for a new token.
 */
export function cachedToken(credential: TokenCredential, scope: string): () => Promise<string> {
  let current: AccessToken | undefined;
  let inFlight: Promise<AccessToken> | undefined;
  return async () => {
    if (current && current.expiresOnTimestamp - REFRESH_BEFORE_EXPIRY_MS > Date.now()) return current.token;
    inFlight ??= credential
      .getToken(scope)
      .then((token) => {
        if (!token) throw new Error('the front door could not get a token for the RP');
        return (current = token);
      })
      .finally(() => (inFlight = undefined));
    return (await inFlight).token;
  };
}
