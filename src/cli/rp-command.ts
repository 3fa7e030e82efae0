// `iotmq rp`: the resource provider on its own, for deployments that outgrow `iotmq dev`: several
// replicas on one PostgreSQL store behind ARM (or the stand-in). It trusts tokens of one issuer
// (keys found by OpenID discovery) and looks custom locations up in ARM with its own service
// principal, as the real RP does. Configuration is validated whole before anything is opened.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import { createRemoteJWKSet, customFetch } from 'jose';
import { caTrustOptions } from '../arm/ca-trust.js';
import { createArmCustomLocations } from '../arm/custom-location-client.js';
import { componentLogger } from '../common/log.js';
import { buildRp } from '../rp/index.js';
import { createStore } from '../store/index.js';
import { commandHelp, parseCommandLine, wantsHelp } from './command-line.js';
import { RP } from './commands.js';
import { ConfigError, deepFreeze } from './extension-config.js';
import { untilSignal } from './run-until-signal.js';

export interface RpConfig {
  storeUrl: string;
  host: string;
  port: number;
  issuers: string[];
  jwksUrl?: string;
  audience: string;
  armCallers: string[];
  armEndpoint: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  tls?: { cert: string; key: string };
  /** The system's CAs plus --ca-file's, when given. */
  caPem?: string;
  operationDeadlineMs: number;
}

/** The flags `iotmq rp` takes (documented in src/cli/commands.ts, whence `iotmq rp --help`). */
export const RP_OPTIONS = RP.options;

type Env = Record<string, string | undefined>;

/** Flags (and IOTMQ_RP_STORE) into a validated, frozen config; `undefined` for --help. Reads the files it names. */
export function parseRpConfig(args: string[], env: Env = process.env): Readonly<RpConfig> | undefined {
  if (wantsHelp(args)) return undefined;
  const values = parseCommandLine(RP, args);
  const need = (name: 'arm-endpoint' | 'tenant' | 'client-id' | 'client-secret-file'): string => {
    const value = values[name];
    if (!value) throw new ConfigError(`iotmq rp: --${name} is required (see iotmq rp --help)`);
    return value;
  };
  const url = (name: string, value: string): string => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(`iotmq rp: --${name} '${value}' is not a URL`);
    }
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopback(parsed.hostname)))
      throw new ConfigError(`iotmq rp: --${name} must be https (plain http only on loopback): ${value}`);
    return value;
  };
  const file = (name: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`iotmq rp: cannot read --${name} ${path}: ${(error as Error).message}`, { cause: error });
    }
  };

  if (!values.issuer?.length) throw new ConfigError('iotmq rp: --issuer is required (see iotmq rp --help)');
  // Security on by default: any other valid token of the issuer could otherwise bypass ARM's checks.
  if (!values['arm-caller']?.length)
    throw new ConfigError('iotmq rp: --arm-caller is required: the app id of ARM (or the front door) that calls it');
  const issuers = values.issuer.map((issuer) => url('issuer', issuer));
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535)
    throw new ConfigError(`iotmq rp: --port must be a port number, not '${values.port}'`);
  const deadlineSeconds = Number(values['operation-deadline-seconds']);
  if (!Number.isFinite(deadlineSeconds) || deadlineSeconds <= 0)
    throw new ConfigError(
      `iotmq rp: --operation-deadline-seconds must be a positive number, not '${values['operation-deadline-seconds']}'`,
    );
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key']))
    throw new ConfigError('iotmq rp: --tls-cert and --tls-key go together');
  const clientSecretFile = need('client-secret-file');
  const clientSecret = file('client-secret-file', clientSecretFile).trim();
  if (!clientSecret) throw new ConfigError(`iotmq rp: --client-secret-file ${clientSecretFile} is empty`);
  return deepFreeze({
    storeUrl: values.store ?? env.IOTMQ_RP_STORE ?? 'sqlite:./.iotmq/rp.db',
    host: values.host,
    port,
    issuers,
    ...(values['jwks-url'] ? { jwksUrl: url('jwks-url', values['jwks-url']) } : {}),
    audience: values.audience,
    armCallers: values['arm-caller'],
    armEndpoint: url('arm-endpoint', need('arm-endpoint')),
    tenantId: need('tenant'),
    clientId: need('client-id'),
    clientSecret,
    ...(values['tls-cert'] && values['tls-key']
      ? { tls: { cert: file('tls-cert', values['tls-cert']), key: file('tls-key', values['tls-key']) } }
      : {}),
    // Node's `ca` replaces the system's CAs: keep them, so a private ARM still works with the public AAD.
    ...(values['ca-file'] ? { caPem: [...rootCertificates, file('ca-file', values['ca-file'])].join('\n') } : {}),
    operationDeadlineMs: deadlineSeconds * 1000,
  });
}

export async function runRp(args: string[]): Promise<void> {
  const config = parseRpConfig(args);
  if (!config) {
    process.stdout.write(commandHelp(RP));
    return;
  }
  const log = componentLogger('cli.rp');
  const get = config.caPem ? getTrusting(config.caPem) : fetch;
  const credential = new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, {
    authorityHost: new URL(config.issuers[0]!).origin,
    disableInstanceDiscovery: true,
    ...(config.caPem ? caTrustOptions(config.caPem) : {}),
  });

  // Everything opened is closed again, also when a later step fails (an open pg pool would keep
  // the process alive after the error is printed).
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const fn of closers.splice(0).reverse())
      await fn().catch((error: unknown) => log.error({ err: error }, 'shutdown step failed'));
  };
  try {
    const store = await createStore(config.storeUrl);
    closers.push(() => store.close());
    const jwksUrl = new URL(config.jwksUrl ?? (await discoverJwks(config.issuers[0]!, get)));
    const app = await buildRp({
      store,
      customLocations: createArmCustomLocations({ endpoint: config.armEndpoint, credential, caPem: config.caPem }),
      auth: {
        issuers: [...config.issuers],
        audiences: [config.audience],
        jwks: config.caPem ? createRemoteJWKSet(jwksUrl, { [customFetch]: get }) : jwksUrl,
      },
      armCallers: [...config.armCallers],
      operationDeadlineMs: config.operationDeadlineMs,
      https: config.tls && { ...config.tls },
    });
    closers.push(() => app.close());
    const address = await app.listen({ host: config.host, port: config.port });
    log.info({ address, store: store.backend, issuers: config.issuers }, 'rp started');
    process.stdout.write(`iotmq rp listening on ${address} (store: ${store.backend})\n`);
    const signal = await untilSignal();
    log.info({ signal }, 'stopping');
  } catch (error) {
    const message = (error as Error).message;
    throw message.startsWith('iotmq rp:') ? error : new Error(`iotmq rp: ${message}`, { cause: error });
  } finally {
    await close();
  }
  process.stdout.write('iotmq rp stopped.\n');
}

/** The issuer's JWKS from its OpenID configuration, as any token consumer finds it. */
async function discoverJwks(issuer: string, get: typeof fetch): Promise<string> {
  const where = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await get(where);
  } catch (error) {
    // fetch's own message is only "fetch failed"; the reason (refused, certificate …) is its cause.
    const reason = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new Error(`iotmq rp: OpenID discovery at ${where} failed: ${reason}`, { cause: error });
  }
  if (!response.ok) throw new Error(`iotmq rp: OpenID discovery at ${where} failed: HTTP ${response.status}`);
  const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: string };
  if (!jwksUri) throw new Error(`iotmq rp: ${where} names no jwks_uri`);
  return jwksUri;
}

/**
 * A GET-only fetch that trusts `caPem` for https (Node's fetch cannot be given a CA per request):
 * for OpenID discovery and jose's JWKS fetches.
 */
function getTrusting(caPem: string): typeof fetch {
  const agent = new https.Agent({ ca: caPem, keepAlive: true });
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(input instanceof Request ? input.url : input);
      const transport = target.protocol === 'https:' ? https : http;
      const request = transport.get(
        target,
        {
          ...(transport === https ? { agent } : {}),
          headers: Object.fromEntries(new Headers(init?.headers)),
          signal: init?.signal ?? undefined,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(response.headers))
              if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
            resolve(new Response(Buffer.concat(chunks), { status: response.statusCode ?? 502, headers }));
          });
        },
      );
      request.on('error', (error) => reject(new Error(error.message, { cause: error })));
    });
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}
