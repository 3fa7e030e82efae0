// `iotmq rp`, the standalone resource provider, as an operator runs it: a child process on a private
// PostgreSQL, trusting the token issuer it finds by OIDC discovery and reading custom locations
// from ARM — both the `iotmq dev` stand-in here (in this process, HTTPS with its own CA, as a
// private cloud would be). Everything is checked through real HTTP: TLS, 401 without a token,
// the ARM caller allow-list, a PUT bound to a real custom location (and refused for a missing one),
// the agent API, rows in PostgreSQL, a restart, SIGTERM, and bad configuration.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../src/api/openapi.js';
import { caTrustOptions } from '../../src/arm/ca-trust.js';
import { loadDevTls } from '../../src/arm/dev-tls.js';
import { RP_AUDIENCE, startDev, type DevHandles } from '../../src/cli/dev.js';
import { RP_OPTIONS } from '../../src/cli/rp-command.js';
import { completeOperations } from '../integration/rp/agent-client.js';
import { httpRequest, mqBody, registerSubscription } from '../integration/rp/harness.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { runCli, startCli, type CliProcess } from '../support/cli.js';
import { accepts } from './dev-stack.js';

let dir: string;
let postgres: PostgresPeer;
let storeUrl: string;
let dev: DevHandles;
/** The flags of a working `iotmq rp` (port 0); tests override single ones. */
let flags: Record<string, string | string[]>;
/** The principal the RP trusts as ARM (`--arm-caller`), another app of the tenant, and the RP's own secret. */
let arm: { clientId: string; clientSecret: string };
let other: { clientId: string; clientSecret: string };
let rpSecret: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-rp-command-'));
  const devDir = path.join(dir, 'dev');
  [postgres, dev] = await Promise.all([startPostgres(), startDev({ port: 0, dataDir: devDir, retryAfterSeconds: 0 })]);
  storeUrl = await postgres.createDatabase();
  const principal = async (displayName: string) => {
    const made = await dev.frontDoor.identity.createServicePrincipal({ tenantId: dev.config.tenantId, displayName });
    return { clientId: made.principal.clientId, clientSecret: made.clientSecret };
  };
  const rp = await principal('iotmq rp (standalone)');
  arm = await principal('ARM (trusted caller)');
  other = await principal('some other app');
  rpSecret = rp.clientSecret;
  // A serving certificate from the same private CA that signs the stand-in's.
  const tls = await loadDevTls(devDir, '127.0.0.1');
  await writeFile(path.join(dir, 'rp-cert.pem'), tls.cert);
  await writeFile(path.join(dir, 'rp-key.pem'), tls.key, { mode: 0o600 });
  await writeFile(path.join(dir, 'rp-secret'), `${rp.clientSecret}\n`, { mode: 0o600 });
  flags = {
    store: storeUrl,
    port: '0',
    issuer: `${dev.config.authorityHost}/${dev.config.tenantId}/v2.0`,
    audience: RP_AUDIENCE,
    'arm-endpoint': dev.config.armEndpoint,
    'arm-caller': arm.clientId,
    tenant: dev.config.tenantId,
    'client-id': rp.clientId,
    'client-secret-file': path.join(dir, 'rp-secret'),
    'tls-cert': path.join(dir, 'rp-cert.pem'),
    'tls-key': path.join(dir, 'rp-key.pem'),
    'ca-file': dev.config.caCertFile,
  };
});
/** Every `iotmq rp` started; one a failed test left running is killed at the end. */
const started: CliProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((cli) => cli.stop('SIGKILL')));
  await dev?.close();
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function argsOf(overrides: Record<string, string | string[] | undefined> = {}): string[] {
  const merged: Record<string, string | string[] | undefined> = { ...flags, ...overrides };
  return [
    'rp',
    ...Object.entries(merged).flatMap(([name, value]) =>
      value === undefined ? [] : [value].flat().flatMap((v) => [`--${name}`, v]),
    ),
  ];
}

async function startRpProcess(): Promise<{ cli: CliProcess; url: string; port: number }> {
  // debug: even the most talkative log must not show a secret or a token.
  const cli = startCli(argsOf(), { IOTMQ_LOG_LEVEL: 'debug' });
  started.push(cli);
  const [, url, port] = await cli.waitFor(/iotmq rp listening on (https:\/\/127\.0\.0\.1:(\d+))/);
  return { cli, url: url!, port: Number(port) };
}

const tokenOf = (principal: { clientId: string; clientSecret: string }, scope = `${RP_AUDIENCE}/.default`) =>
  new ClientSecretCredential(dev.config.tenantId, principal.clientId, principal.clientSecret, {
    authorityHost: dev.config.authorityHost,
    disableInstanceDiscovery: true,
    ...caTrustOptions(dev.caPem),
  })
    .getToken(scope)
    .then((token) => token.token);

/** One request to the RP over HTTPS (trusting the private CA), JSON in and out. */
async function call(url: string, method: string, pathAndQuery: string, body?: unknown, token?: string) {
  const response = await httpRequest(`${url}${pathAndQuery}`, {
    method,
    ca: dev.caPem,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: response.text ? JSON.parse(response.text) : undefined,
  };
}

const mqId = (name: string) =>
  `/subscriptions/${dev.config.subscriptionId}/resourceGroups/${dev.config.resourceGroup}/providers/Microsoft.IoTOperationsMQ/mq/${name}`;

describe('iotmq rp (child process, PostgreSQL, the ARM + identity stand-in)', () => {
  it('--help documents every option and exits 0', async () => {
    const { code, output } = await runCli(['rp', '--help']);
    expect(code, output).toBe(0);
    for (const name of Object.keys(RP_OPTIONS)) expect(output).toContain(`--${name}`);
    expect(output).toContain('IOTMQ_RP_STORE');
  });

  it('serves ARM over HTTPS with the issuer’s tokens, stores in PostgreSQL, and stops on SIGTERM', async () => {
    const { cli, url, port } = await startRpProcess();
    let token = '';
    try {
      expect(cli.output()).toMatch(/store: postgres/);

      // No token: 401 with the challenge ARM clients read.
      const anonymous = await call(
        url,
        'GET',
        `/providers/Microsoft.IoTOperationsMQ/operations?api-version=${API_VERSION}`,
      );
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(
        new RegExp(`^Bearer authorization_uri="${flags.issuer}".*error="invalid_token"`),
      );
      expect(anonymous.body.error.code).toBe('AuthenticationFailed');

      // A valid token of an app that is not ARM: 403 on the ARM routes.
      const stranger = await call(
        url,
        'GET',
        `/providers/Microsoft.IoTOperationsMQ/operations?api-version=${API_VERSION}`,
        undefined,
        await tokenOf(other),
      );
      expect(stranger.status).toBe(403);
      expect(stranger.body.error.code).toBe('AuthorizationFailed');

      // ARM's token: the subscription registers, an mq resource on the real custom location is accepted.
      token = await tokenOf(arm);
      await registerSubscription(
        { call: (method, pathAndQuery, body) => call(url, method, pathAndQuery, body, token) },
        'Registered',
        dev.config.subscriptionId,
      );
      const id = mqId('standalone');
      const body = mqBody({ extendedLocation: { name: dev.config.customLocationId, type: 'CustomLocation' } });
      const created = await call(url, 'PUT', `${id}?api-version=${API_VERSION}`, body, token);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body.properties.provisioningState).toBe('Accepted');
      const operationUrl = created.headers.get('azure-asyncoperation')!;
      expect(operationUrl).toMatch(new RegExp(`^${url}/`));

      // A custom location ARM does not have: refused as the RP refuses it.
      const missing = await call(
        url,
        'PUT',
        `${mqId('nowhere')}?api-version=${API_VERSION}`,
        mqBody({ extendedLocation: { name: `${dev.config.customLocationId}-missing`, type: 'CustomLocation' } }),
        token,
      );
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatchObject({ code: 'InvalidExtendedLocation', target: 'extendedLocation.name' });
      expect(missing.body.error.message).toContain('does not exist');

      // The cluster's agent (its own identity from the stand-in) reads the feed and completes the operation.
      const agentToken = await tokenOf(dev.config.agent, dev.config.agent.scope);
      expect(await completeOperations(url, agentToken, dev.config.clusterId, { ca: dev.caPem })).toBe(1);
      const operation = await call(
        url,
        'GET',
        new URL(operationUrl).pathname + new URL(operationUrl).search,
        undefined,
        token,
      );
      expect(operation.body.status).toBe('Succeeded');

      // The row is in PostgreSQL.
      const db = new pg.Client({ connectionString: storeUrl });
      await db.connect();
      try {
        const { rows } = await db.query('SELECT id, custom_location FROM iotmq.resources WHERE key = $1', [
          id.toLowerCase(),
        ]);
        expect(rows).toEqual([{ id, custom_location: dev.config.customLocationId.toLowerCase() }]);
      } finally {
        await db.end();
      }
    } finally {
      expect(await cli.stop('SIGTERM'), cli.output()).toBe(0);
    }
    expect(await accepts(port)).toBe(false);
    expect(cli.output()).not.toContain(rpSecret);
    expect(cli.output()).not.toContain(token);
    expect(cli.output()).toContain('iotmq rp stopped.');
  });

  it('a restarted process serves what the first one stored', async () => {
    const { cli, url } = await startRpProcess();
    try {
      const got = await call(
        url,
        'GET',
        `${mqId('standalone')}?api-version=${API_VERSION}`,
        undefined,
        await tokenOf(arm),
      );
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({
        id: mqId('standalone'),
        extendedLocation: { name: dev.config.customLocationId },
        properties: { provisioningState: 'Succeeded' },
      });
    } finally {
      expect(await cli.stop('SIGINT'), cli.output()).toBe(0);
    }
  });

  // Twelve processes at once: generous for a loaded machine.
  it('refuses bad flags and configuration with a clear message and a non-zero exit', { timeout: 120_000 }, async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = String((busy.address() as net.AddressInfo).port);
    const cases: [string[], RegExp][] = [
      [[...argsOf(), '--bogus'], /Unknown option '--bogus'/],
      [argsOf({ issuer: undefined }), /--issuer is required/],
      [argsOf({ 'arm-caller': undefined }), /--arm-caller is required/],
      [argsOf({ port: '99999' }), /--port must be a port number/],
      [argsOf({ 'operation-deadline-seconds': 'soon' }), /--operation-deadline-seconds/],
      [argsOf({ 'tls-key': undefined }), /--tls-cert and --tls-key/],
      [argsOf({ 'client-secret-file': path.join(dir, 'no-such-file') }), /--client-secret-file .*no-such-file/],
      [argsOf({ issuer: 'not a url' }), /--issuer .*not a URL/],
      [argsOf({ store: 'mysql://db/iotmq' }), /iotmq rp: Unsupported store URL/],
      [argsOf({ issuer: `${dev.config.authorityHost}/${randomUUID()}/v2.0` }), /OpenID discovery .* failed: HTTP 400/],
      // The private CA not given: the reason is named, not just "fetch failed".
      [argsOf({ 'ca-file': undefined }), /OpenID discovery .* failed: .*certificate/],
      // Started far enough to open the store, then the port is taken: it must still exit.
      [argsOf({ port: busyPort }), /iotmq rp: listen EADDRINUSE/],
    ];
    try {
      const results = await Promise.all(cases.map(([args]) => runCli(args, {}, 100_000)));
      results.forEach(({ code, output }, i) => {
        // a command line iotmq cannot read is a usage error (2); a configuration it cannot use, 1
        expect(code, output).toBe(i === 0 ? 2 : 1);
        expect(output).toMatch(cases[i]![1]);
        expect(output, 'a clear message, not a stack trace').not.toMatch(/^\s+at /m);
      });
    } finally {
      busy.close();
    }
  });
});
