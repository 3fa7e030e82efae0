// HTTPS to a Kubernetes API server with the credentials of a @kubernetes/client-node KubeConfig
// (kubeconfig file, in-cluster service account, exec plugins): one request = one call, the
// response parsed as JSON, failures turned into ClusterError with the reason the API server gave.
// Requests are built here rather than through the generated typed APIs because the client needs
// what those do not expose generically: apply patches on any kind, the status subresource, JSON
// patches with preconditions, and the raw Status of a failure.
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError, type ClusterErrorCode, type StatusCause } from './types.js';

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface KubeTransport {
  /** The response body (parsed); throws ClusterError for any non-2xx status. */
  request<T = unknown>(request: KubeRequest): Promise<T>;
  readonly server: string;
}

/** The `Status` object the API server sends with a failure. */
export interface KubeStatus {
  kind?: 'Status';
  code?: number;
  reason?: string;
  message?: string;
  details?: { causes?: Partial<StatusCause>[] };
}

const CODES: Record<number, ClusterErrorCode> = {
  401: 'Forbidden',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Gone',
  422: 'Invalid',
  400: 'Invalid',
};

/** Maps an HTTP status (and the API server's Status) to our error vocabulary. */
export function statusError(code: number, status: KubeStatus | string | undefined, what: string): ClusterError {
  const message = typeof status === 'string' ? status : (status?.message ?? status?.reason ?? '');
  // Server-side apply answers 500 when the applied object does not fit the schema (a field the CRD
  // does not declare): that is the caller's mistake, not the server being unavailable.
  if (code === 500 && /failed to create typed patch object/.test(message))
    return new ClusterError('Invalid', `${what}: ${message}`, 422, { causes: typedPatchCauses(message) });
  const causes = (typeof status === 'object' ? (status.details?.causes ?? []) : []).map((cause) => ({
    reason: cause.reason ?? '',
    message: cause.message ?? '',
    field: cause.field ?? '',
  }));
  return new ClusterError(CODES[code] ?? 'Unavailable', `${what}: ${code} ${message}`.trim(), code, { causes });
}

/**
 * The fields of a server-side apply the API server could not type against the schema, one per line
 * after the object's name: `…(/name; group/v1, Kind=X): .spec.port: expected numeric …`.
 */
function typedPatchCauses(message: string): StatusCause[] {
  const errors = message.slice(message.indexOf('): ') + 3);
  return [...errors.matchAll(/^\s*\.(\S+?): (.+)$/gm)].map(([, field, text]) => ({
    reason: /not declared in schema/.test(text!)
      ? 'FieldValueInvalid'
      : /^duplicate entries/.test(text!)
        ? 'FieldValueDuplicate'
        : 'FieldValueTypeInvalid',
    message: text!,
    field: field!,
  }));
}

export function createKubeTransport(config: KubeConfig): KubeTransport {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new ClusterError('Invalid', 'kubeconfig has no current cluster', 400);
  const server = cluster.server.replace(/\/$/, '');
  // One keep-alive agent: the client makes many small calls to the same server.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });

  async function request<T>(req: KubeRequest): Promise<T> {
    const url = new URL(server + req.path);
    for (const [key, value] of Object.entries(req.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, value);
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const options: https.RequestOptions = {
      method: req.method,
      headers: { accept: 'application/json' },
      signal: req.signal,
    };
    // Credentials and TLS settings from the kubeconfig (token refresh for exec/file tokens included).
    await config.applyToHTTPSOptions(options);
    options.agent = agent;
    const headers = options.headers as Record<string, string>;
    if (payload !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const what = `${req.method} ${req.path}`;
    // 429 is the API server asking to come back (priority and fairness, or a resource's watch cache
    // still initialising right after its CRD became Established): honour Retry-After a few times,
    // as client-go does, before giving up.
    for (let attempt = 1; ; attempt++) {
      const { status, text, retryAfter } = await send(url, options, payload, what);
      const body = parse(text);
      if (status === 429 && attempt < MAX_ATTEMPTS && !req.signal?.aborted) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfter ?? 1, MAX_RETRY_AFTER_S) * 1000));
        continue;
      }
      if (status < 200 || status >= 300) throw statusError(status, body as KubeStatus | string, what);
      return body as T;
    }
  }

  return { request, server };
}

const MAX_ATTEMPTS = 10;
const MAX_RETRY_AFTER_S = 5;

function send(
  url: URL,
  options: https.RequestOptions,
  payload: string | undefined,
  what: string,
): Promise<{ status: number; text: string; retryAfter?: number }> {
  return new Promise((resolve, reject) => {
    const call = https.request(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const retryAfter = Number(res.headers['retry-after']);
        resolve({
          status: res.statusCode ?? 0,
          text,
          ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfter } : {}),
        });
      });
      res.on('error', reject);
    });
    call.on('error', (cause) => reject(new ClusterError('Unavailable', `${what}: ${cause.message}`, 503, { cause })));
    if (payload !== undefined) call.write(payload);
    call.end();
  });
}

function parse(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
