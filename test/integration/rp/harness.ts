// Starts the resource provider on a loopback port with a real store (SQLite in a temp dir, or the
// private PostgreSQL of test/peers). Tokens are signed with a key made here and published as the
// RP's JWKS: the token issuer of the local ARM stand-in replaces this key in the e2e tests.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

type KeyLike = Parameters<SignJWT['sign']>[0];
import type { FastifyInstance } from 'fastify';
import { buildRp, createFixedCustomLocations, type CustomLocation } from '../../../src/rp/index.js';
import { createStore, type Store } from '../../../src/store/index.js';

export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const ISSUER = `https://login.iotmq.test/${TENANT}/v2.0`;
export const AUDIENCE = 'https://management.azure.com/';
export const SUBSCRIPTION = '5c1f8a2e-93d4-4b7a-a6e1-0d2f7c9b4e38';
export const CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/plant/providers/Microsoft.Kubernetes/connectedClusters/plant-1`;
export const OTHER_CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/plant/providers/Microsoft.Kubernetes/connectedClusters/plant-2`;
export const CUSTOM_LOCATION = `/subscriptions/${SUBSCRIPTION}/resourceGroups/plant/providers/Microsoft.ExtendedLocation/customLocations/plant-1-cl`;
export const OTHER_CUSTOM_LOCATION = `/subscriptions/${SUBSCRIPTION}/resourceGroups/plant/providers/Microsoft.ExtendedLocation/customLocations/plant-2-cl`;
export const API = 'api-version=2023-10-04-preview';

export interface RpHarness {
  url: string;
  app: FastifyInstance;
  store: Store;
  /** A user token (what ARM forwards); claims can be overridden. */
  token(
    claims?: Record<string, unknown>,
    options?: { expiresIn?: string; audience?: string; key?: KeyLike },
  ): Promise<string>;
  /** A token of a cluster's agent identity. */
  agentToken(clusterId?: string): Promise<string>;
  /** fetch against the RP with a user token, JSON in and out. */
  call(
    method: string,
    pathAndQuery: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  storeUrl?: string;
  operationDeadlineMs?: number;
  customLocations?: CustomLocation[];
  feedRetention?: number;
  armCallers?: string[];
  compactionIntervalMs?: number;
  /** Serve HTTPS with a certificate from this CA (the Azure SDK refuses plain HTTP). */
  tls?: { certPem: string; keyPem: string; caPem: string };
}

export async function startRp(options: HarnessOptions = {}): Promise<RpHarness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-rp-'));
  const store = await createStore(options.storeUrl ?? `sqlite:${path.join(dir, 'rp.db')}`);
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const app = await buildRp({
    store,
    customLocations: createFixedCustomLocations(
      options.customLocations ?? [
        { id: CUSTOM_LOCATION, hostResourceId: CLUSTER, namespace: 'azure-iot-operations' },
        { id: OTHER_CUSTOM_LOCATION, hostResourceId: OTHER_CLUSTER, namespace: 'azure-iot-operations' },
      ],
    ),
    auth: { issuers: [ISSUER], audiences: [AUDIENCE], jwks: { keys: [jwk] } },
    operationDeadlineMs: options.operationDeadlineMs ?? 60_000,
    retryAfterSeconds: 1,
    expiryIntervalMs: 100,
    bookmarkIntervalMs: 500,
    feedRetention: options.feedRetention,
    armCallers: options.armCallers,
    compactionIntervalMs: options.compactionIntervalMs,
    https: options.tls ? { key: options.tls.keyPem, cert: options.tls.certPem } : undefined,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${address.port}`;

  const sign = async (
    claims: Record<string, unknown>,
    opts: { expiresIn?: string; audience?: string; key?: KeyLike } = {},
  ) =>
    new SignJWT({ tid: TENANT, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .setIssuer(ISSUER)
      .setAudience(opts.audience ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(opts.expiresIn ?? '1h')
      .sign(opts.key ?? privateKey);

  const harness: RpHarness = {
    url,
    app,
    store,
    token: (claims = {}, opts) =>
      sign({ upn: 'ops@contoso.com', oid: '0b6a2e1f-0000-4000-8000-000000000001', ...claims }, opts),
    agentToken: (clusterId = CLUSTER) => sign({ appid: 'iotmq-agent', idtyp: 'app', xms_mirid: clusterId }),
    async call(method, pathAndQuery, body, headers = {}) {
      const response = await httpRequest(`${url}${pathAndQuery}`, {
        method,
        ca: options.tls?.caPem,
        headers: {
          authorization: `Bearer ${await harness.token()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      let parsed: unknown;
      try {
        parsed = response.text ? JSON.parse(response.text) : undefined;
      } catch {
        parsed = response.text;
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async close() {
      await app.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** One HTTP(S) request with node's client (fetch cannot be told to trust a test CA per call). */
export function httpRequest(
  url: string,
  options: { method: string; headers?: Record<string, string>; body?: string; ca?: string },
): Promise<{ status: number; headers: Headers; text: string }> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // Node's client sends no length for a GET/DELETE body unless told; the server would then read
    // the body as the next request on the connection.
    const headers = {
      ...options.headers,
      ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }),
    };
    const req = transport.request(target, { method: options.method, headers, ca: options.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** `PUT /subscriptions/{id}?api-version=2.0` as ARM sends it when a subscription registers the provider. */
export async function registerSubscription(
  rp: Pick<RpHarness, 'call'>,
  state = 'Registered',
  subscriptionId = SUBSCRIPTION,
): Promise<void> {
  const response = await rp.call('PUT', `/subscriptions/${subscriptionId}?api-version=2.0`, {
    state,
    registrationDate: 'Mon, 13 Nov 2023 09:00:00 GMT',
    properties: { tenantId: TENANT, accountOwner: { email: 'ops@contoso.com' }, registeredFeatures: [] },
  });
  if (response.status !== 200) throw new Error(`subscription registration failed: ${JSON.stringify(response.body)}`);
}

export const rg = (name = 'plant') =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${name}/providers/Microsoft.IoTOperationsMQ`;

export function mqBody(overrides: Record<string, unknown> = {}) {
  return {
    location: 'eastus',
    extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
    properties: {},
    ...overrides,
  };
}
