// Starts `iotmq dev` (startDev: front door + identity on HTTPS with its own CA, the RP behind it on
// SQLite) in a temp data dir on a loopback port, and gives tests real Azure SDK clients that trust
// the dev CA per request — TLS verification is never turned off. Every ARM test file starts its
// stack here, with the fake agent (fake-agent.ts) when RP operations must complete.
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ResourceManagementClient } from '@azure/arm-resources';
import type { ClientSecretCredential } from '@azure/identity';
import { startDev, type DevHandles } from '../../../src/cli/dev.js';
import { agentCredential, ARM_SCOPE, devArmClient, devCredential } from '../../support/dev-sdk.js';
import { rawRequest, type RawResult } from '../../support/raw-http.js';
import { startFakeAgent, type Decide, type FakeAgent } from './fake-agent.js';

export const MQ_API = '2023-10-04-preview';

export interface ArmOptions {
  dataDir?: string;
  keep?: boolean;
  /**
   * Plays the local cluster's agent from the start (stopped by close()), so RP operations complete:
   * `true` converges everything in flight, a function decides per resource (see startAgent).
   */
  agent?: true | Decide;
}

export interface ArmHarness {
  dev: DevHandles;
  dataDir: string;
  url: string;
  credential: ClientSecretCredential;
  client: ResourceManagementClient;
  /** A token of the dev user for ARM. */
  token(scope?: string): Promise<string>;
  /** The local cluster's agent token (for the RP's agent API). */
  agentToken(): Promise<string>;
  /** A fake agent of the local cluster, its watch open; the caller stops it (close() stops the one of `options.agent`). */
  startAgent(decide?: Decide): Promise<FakeAgent>;
  /** HTTPS JSON request to the front door as the dev user (unless `headers` carry an authorization), trusting the dev CA. */
  call(method: string, pathAndQuery: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  /** The same without a token: what an anonymous caller gets. */
  anonymous(
    method: string,
    pathAndQuery: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<HttpResult>;
  close(): Promise<void>;
}

export type HttpResult = RawResult;

export async function startArm(options: ArmOptions = {}): Promise<ArmHarness> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'iotmq-arm-')));
  const dev = await startDev({ dataDir, port: 0, retryAfterSeconds: 1, operationDeadlineMs: 60_000 });
  const { config } = dev;
  const credential = devCredential(dev);
  const agentCredentials = agentCredential(dev);
  const tlsAgent = new https.Agent({ ca: dev.caPem });
  const anonymous: ArmHarness['anonymous'] = (method, pathAndQuery, body, headers) =>
    httpsRequest(tlsAgent, `${config.armEndpoint}${pathAndQuery}`, method, body, headers);
  let fakeAgent: FakeAgent | undefined;
  const harness: ArmHarness = {
    dev,
    dataDir,
    url: config.armEndpoint,
    credential,
    client: devArmClient(dev, credential),
    token: async (scope = ARM_SCOPE) => (await credential.getToken(scope))!.token,
    agentToken: async () => (await agentCredentials.getToken(config.agent.scope))!.token,
    async startAgent(decide) {
      const started = startFakeAgent({
        url: dev.rpUrl,
        clusterId: config.clusterId,
        token: harness.agentToken,
        decide,
      });
      await started.ready;
      return started;
    },
    async call(method, pathAndQuery, body, headers = {}) {
      const auth: Record<string, string> =
        'authorization' in headers ? {} : { authorization: `Bearer ${await harness.token()}` };
      return anonymous(method, pathAndQuery, body, { ...auth, ...headers });
    },
    anonymous,
    async close() {
      await fakeAgent?.stop();
      await dev.close();
      tlsAgent.destroy();
      if (!options.keep) await rm(dataDir, { recursive: true, force: true });
    },
  };
  if (options.agent) fakeAgent = await harness.startAgent(options.agent === true ? undefined : options.agent);
  return harness;
}

/** One HTTPS request to `url` (a whole URL, so the client resolves what it would), trusting `agent`'s CA. */
export function httpsRequest(
  agent: https.Agent,
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const target = new URL(url);
  return rawRequest(target.origin, agent, method, `${target.pathname}${target.search}`, body, headers);
}
