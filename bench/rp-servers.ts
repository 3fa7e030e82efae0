// The servers under test, in their own process so the load generator does not share their event
// loop: the RP on its embedded SQLite store, and the peer it is compared with — a bare fastify route
// that returns the same stored JSON with no auth, validation or store behind it.
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { buildRp, createFixedCustomLocations } from '../src/rp/index.js';
import { createStore } from '../src/store/index.js';

const SUB = '5c1f8a2e-93d4-4b7a-a6e1-0d2f7c9b4e38';
const CL = `/subscriptions/${SUB}/resourceGroups/bench/providers/Microsoft.ExtendedLocation/customLocations/bench-cl`;
const ISSUER = 'https://login.iotmq.bench/tenant/v2.0';
const AUDIENCE = 'https://management.azure.com/';

const dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-bench-'));
const store = await createStore(`sqlite:${path.join(dir, 'rp.db')}`);
const { publicKey, privateKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256' };
const rp = await buildRp({
  store,
  customLocations: createFixedCustomLocations([{ id: CL, hostResourceId: 'cluster', namespace: 'ns' }]),
  auth: { issuers: [ISSUER], audiences: [AUDIENCE], jwks: { keys: [jwk] } },
  operationDeadlineMs: 3_600_000,
});
await rp.listen({ host: '127.0.0.1', port: 0 });
const token = await new SignJWT({ upn: 'bench@contoso.com', tid: 'tenant' })
  .setProtectedHeader({ alg: 'RS256', kid: 'bench' })
  .setIssuer(ISSUER)
  .setAudience(AUDIENCE)
  .setExpirationTime('2h')
  .sign(privateKey);

const rpUrl = `http://127.0.0.1:${(rp.server.address() as { port: number }).port}`;
const base = `/subscriptions/${SUB}/resourceGroups/bench/providers/Microsoft.IoTOperationsMQ`;
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
await fetch(`${rpUrl}/subscriptions/${SUB}?api-version=2.0`, {
  method: 'PUT',
  headers,
  body: JSON.stringify({ state: 'Registered', properties: {} }),
});
const body = { location: 'eastus', extendedLocation: { name: CL, type: 'CustomLocation' }, properties: {} };
const created = await fetch(`${rpUrl}${base}/mq/bench-get?api-version=2023-10-04-preview`, {
  method: 'PUT',
  headers,
  body: JSON.stringify(body),
});
const stored = await created.text();

const bare = Fastify();
bare.get('/stored', async (_request, reply) => reply.type('application/json; charset=utf-8').send(stored));
await bare.listen({ host: '127.0.0.1', port: 0 });
const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`;

process.send!({ rpUrl, bareUrl, token, base, body, subscription: SUB });
process.on('disconnect', () => {
  rmSync(dir, { recursive: true, force: true }); // the store's files, some 100 MB after the PUT runs
  process.exit(0);
});
