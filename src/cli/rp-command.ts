import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ClientSecretCredential } from '@azure/identity';
import { createArmCustomLocations } from '../arm/custom-location-client.js';
import { buildRp } from '../rp/index.js';
import { createStore } from '../store/index.js';

/**
 * `iotmq rp`: the resource provider on its own, for deployments that outgrow `iotmq dev`: several
 * replicas on one PostgreSQL store behind ARM (or the stand-in). It trusts tokens of one issuer and
 * looks custom locations up in ARM with its own service principal, as the real RP does.
 *
 *   iotmq rp --store postgres://rp@db/iotmq --issuer https://login.example/TENANT/v2.0 \
 *     --audience https://management.azure.com/ --arm-endpoint https://arm.example \
 *     --tenant TENANT --client-id ID --client-secret-file /run/secrets/rp [--port 8444] \
 *     [--tls-cert cert.pem --tls-key key.pem] [--ca-file ca.pem]
 */
export async function runRp(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      store: { type: 'string', default: process.env.IOTMQ_RP_STORE ?? 'sqlite:./.iotmq/rp.db' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8444' },
      issuer: { type: 'string', multiple: true },
      audience: { type: 'string', default: 'https://management.azure.com/' },
      'jwks-url': { type: 'string' },
      'arm-endpoint': { type: 'string' },
      tenant: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'ca-file': { type: 'string' },
      'operation-deadline-seconds': { type: 'string', default: '300' },
    },
    strict: true,
  });
  const required = (name: keyof typeof values) => {
    const value = values[name];
    if (value === undefined || (Array.isArray(value) && value.length === 0))
      throw new Error(`iotmq rp: --${name} is required`);
    return value;
  };
  const issuers = required('issuer') as string[];
  const caPem = values['ca-file'] ? readFileSync(values['ca-file'], 'utf8') : undefined;
  const authorityHost = new URL(issuers[0]!).origin;
  const credential = new ClientSecretCredential(
    required('tenant') as string,
    required('client-id') as string,
    readFileSync(required('client-secret-file') as string, 'utf8').trim(),
    { authorityHost, disableInstanceDiscovery: true },
  );
  const jwksUrl = values['jwks-url'] ?? (await discoverJwks(issuers[0]!));
  const store = await createStore(values.store);
  const app = await buildRp({
    store,
    customLocations: createArmCustomLocations({ endpoint: required('arm-endpoint') as string, credential, caPem }),
    auth: { issuers, audiences: [values.audience], jwks: new URL(jwksUrl) },
    operationDeadlineMs: Number(values['operation-deadline-seconds']) * 1000,
    https:
      values['tls-cert'] && values['tls-key']
        ? { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key'], 'utf8') }
        : undefined,
  });
  const address = await app.listen({ host: values.host, port: Number(values.port) });
  process.stdout.write(`iotmq rp listening on ${address} (store: ${store.backend})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await app.close();
  await store.close();
}

/** The issuer's JWKS from its OpenID configuration, as any token consumer finds it. */
async function discoverJwks(issuer: string): Promise<string> {
  const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`iotmq rp: OpenID discovery at ${issuer} failed: HTTP ${response.status}`);
  const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: string };
  if (!jwksUri) throw new Error(`iotmq rp: ${issuer} publishes no jwks_uri`);
  return jwksUri;
}
