import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { apiError } from './errors.js';

/**
 * A request target as every HTTP layer of the control plane reads it — the front door routes,
 * authorises and forwards this, and the RP parses the same thing again — so no two readers can
 * disagree about which resource a request names or which api-version it asks for.
 */
export interface RequestTarget {
  /** Canonical path: `//` collapsed, no trailing `/`, every segment in one encoding. */
  path: string;
  /** The path's segments, percent-decoded once. */
  segments: string[];
  /** Query parameters, each given at most once (names compared case-insensitively). */
  query: Record<string, string>;
  /** `path` plus the query re-serialised from `query`: what is forwarded. */
  pathAndQuery: string;
}

export interface RequestTargetOptions {
  /**
   * Allow `%2F` inside a segment. Only the agent API's `{clusterId}` segment (a URL-encoded ARM id)
   * needs it; everywhere else an encoded separator could be read as a path by a later hop.
   */
  encodedSlash?: boolean;
}

const MAX_TARGET_LENGTH = 8192;
/** RFC 3986 pchar without pct-encoded: such a segment means the same to every URL parser. */
const PLAIN_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Parses and checks a request target. Refused with 400 (never "resolved"): dot segments in any
 * encoding (`..`, `%2e%2e`, `.%2E`, `.`), backslashes raw or encoded, encoded `/`, control
 * characters, malformed percent-encoding, and a query parameter given twice. What passes is
 * re-encoded segment by segment, so the result is the same for every reader (WHATWG URL, fastify,
 * a regex router) and a forwarded request names exactly what was authorised.
 */
export function parseRequestTarget(url: string, options: RequestTargetOptions = {}): RequestTarget {
  const refuse = (reason: string) => apiError('InvalidRequestUri', { uri: shorten(url), reason });
  if (url.length > MAX_TARGET_LENGTH) throw refuse(`it is longer than ${MAX_TARGET_LENGTH} characters.`);
  if (!url.startsWith('/')) throw refuse("the path must start with '/'.");
  const mark = url.indexOf('?');
  const rawPath = mark === -1 ? url : url.slice(0, mark);
  const segments: string[] = [];
  const canonical: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue;
    if (raw.includes('\\')) throw refuse('it contains a backslash.');
    if (PLAIN_SEGMENT.test(raw) && raw !== '.' && raw !== '..') {
      segments.push(raw);
      canonical.push(raw);
      continue;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      throw refuse('it has malformed percent-encoding.');
    }
    if (decoded === '.' || decoded === '..') throw refuse('dot segments are not allowed.');
    if (decoded.includes('\\')) throw refuse('it contains a backslash.');
    if (decoded.includes('/') && !options.encodedSlash) throw refuse('it contains an encoded path separator.');
    if (CONTROL.test(decoded)) throw refuse('it contains control characters.');
    segments.push(decoded);
    canonical.push(encodeURIComponent(decoded));
  }
  const path = `/${canonical.join('/')}`;
  const query = mark === -1 ? {} : parseQuery(url.slice(mark + 1));
  const search = new URLSearchParams(query).toString();
  return { path, segments, query, pathAndQuery: search ? `${path}?${search}` : path };
}

/** The one query parser: `+` and percent-encoding decoded once; a name given twice is refused. */
export function parseQuery(text: string): Record<string, string> {
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(text)) {
    const key = name.toLowerCase();
    if (seen.has(key)) throw apiError('InvalidQueryParameter', { name, reason: 'is given more than once.' });
    if (CONTROL.test(name) || CONTROL.test(value))
      throw apiError('InvalidQueryParameter', { name: shorten(name), reason: 'contains control characters.' });
    seen.add(key);
    query[name] = value;
  }
  return query;
}

function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * fastify's `clientErrorHandler`: a request the HTTP parser cannot read (bytes a request line may
 * not hold, a header too large, too slow) still gets ARM's error shape, then the connection closes
 * — after a framing error nothing more on it can be trusted.
 */
export function refuseUnreadableRequest(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiErr =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? apiError('RequestHeadersTooLarge')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? apiError('RequestTimeout')
        : apiError('MalformedHttpRequest', { reason: error.code ?? 'unreadable' });
  const body = JSON.stringify(apiErr.toBody());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${apiErr.status} ${STATUS_CODES[apiErr.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
