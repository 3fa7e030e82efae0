// A JSON request over http(s) with a private CA and optional client certificate, which fetch in
// Node 20 cannot do without a custom dispatcher.
import http from 'node:http';
import https from 'node:https';

export interface HttpJsonOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  ca?: string;
  cert?: string;
  key?: string;
  timeoutMs?: number;
}

export interface HttpJsonResponse {
  status: number;
  body: unknown;
  text: string;
}

export function httpJson(url: string, options: HttpJsonOptions = {}): Promise<HttpJsonResponse> {
  const u = new URL(url);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: options.method ?? 'GET',
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...options.headers,
        },
        ...(u.protocol === 'https:' ? { ca: options.ca, cert: options.cert, key: options.key } : {}),
        timeout: options.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${u.host} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
