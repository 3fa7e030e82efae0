// An HTTP(S) request whose target is sent exactly as given (curl --path-as-is): Node's URL-based
// request() and fetch resolve `..`, `%2e%2e` and `\\` on the client side, so a server's handling
// of those can only be tested with the target passed through untouched.
import http from 'node:http';
import https from 'node:https';

export interface RawResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or the text when it is not JSON. */
  body: any;
}

/** One request with `target` sent as it is: host and port from `base`, never parsed as a URL. */
export function rawRequest(
  base: string,
  agent: https.Agent | undefined,
  method: string,
  target: string,
  body?: unknown,
  headers: Record<string, string> = {},
  localAddress?: string,
): Promise<RawResult> {
  const url = new URL(base);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  // The RP's loopback port speaks plain HTTP.
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: target,
        // A custom local address needs its own connection, not one of the agent's pool.
        agent: localAddress ? false : url.protocol === 'https:' ? agent : undefined,
        ...(localAddress ? { localAddress, ca: (agent?.options as { ca?: string } | undefined)?.ca } : {}),
        // A length always: Node's client frames no GET/DELETE body by itself, and the body's bytes
        // would then be read as the next request on the connection.
        headers: {
          ...(payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')
            ? { 'content-type': 'application/json' }
            : {}),
          ...(payload !== undefined ? { 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: response.statusCode!, headers: response.headers, text, body: parsed });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}
