// A live `iotmq dev` in this process for end-to-end tests and the reconcile benchmark: front door +
// identity stand-in over HTTPS, RP on SQLite, the local cluster (agent, operator, local driver)
// and the default resources — with every port free (never 8443/8883/1883, which a user's own
// `npm start` or broker may hold) and everything in a temp data dir. The Azure SDK is pointed at
// it as a user would (test/support/dev-sdk.ts), and drives it: PUTs of MQ resources through the
// front door, a new agent as after a restart of the real one.
// The benchmark imports this fixture, never the other way round: the e2e tests run it on every
// change and check its teardown (no process outlives it), while bench code runs only on demand
// and must stay free to change without breaking a test.
import { eventually } from '../support/eventually.js';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type {
  ResourceManagementClient,
  ResourcesCreateOrUpdateByIdOptionalParams,
  ResourcesCreateOrUpdateByIdResponse,
} from '@azure/arm-resources';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { API_VERSION } from '../../src/api/openapi.js';
import { startDev, type DevHandles } from '../../src/cli/dev.js';
import { startDevExtension, type DevMqtt } from '../../src/cli/dev-extension.js';
import { createAgent, type Agent } from '../../extension/agent/index.js';
import { hashPassword } from '../../extension/broker/auth/password-db.js';
import type { LocalClusterHandles } from '../../extension/operator/index.js';
import { agentCredential, devArmClient } from '../support/dev-sdk.js';
import { freePort } from '../support/ports.js';

export { accepts, freePort } from '../support/ports.js';

export const NAMESPACE = 'azure-iot-operations';

export interface DevStack {
  dir: string;
  dev: DevHandles;
  local: LocalClusterHandles;
  mqtt: DevMqtt;
  client: ResourceManagementClient;
  /** `/subscriptions/…/mq/mq-instance/broker/broker` (made by the first start). */
  brokerId: string;
  /** The ARM body of an MQ resource bound to the dev custom location. */
  body(properties: Record<string, unknown>): Record<string, unknown>;
  /** PUT an MQ resource (`body(properties)`) through the SDK; resolves once the RP accepted it, with its poller. */
  put(id: string, properties: Record<string, unknown>, options?: PutOptions): ReturnType<PutById>;
  /** The same, and wait for the operation to end: its final resource, or the LRO's error. */
  putAndWait(
    id: string,
    properties: Record<string, unknown>,
    options?: PutOptions,
  ): Promise<ResourcesCreateOrUpdateByIdResponse>;
  /** A new agent for the local cluster (as after a restart of the real one); the caller stops it. */
  startAgent(): Agent;
  /** GET an absolute URL through the SDK's pipeline (token + dev CA), e.g. an Azure-AsyncOperation URL. */
  getJson(url: string): Promise<{ status: number; body: any }>;
  /** A username/password database Secret on the local cluster (Secrets are cluster-side, as on AKS). */
  passwordSecret(name: string, users: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/** A non-TLS BrokerListener of the default broker on `port`, authorization off. */
export function listenerProperties(port: number, authenticationEnabled: boolean): Record<string, unknown> {
  return { brokerRef: 'broker', port, serviceType: 'clusterIp', authenticationEnabled, authorizationEnabled: false };
}

type PutById = ResourceManagementClient['resources']['beginCreateOrUpdateById'];
type PutOptions = ResourcesCreateOrUpdateByIdOptionalParams;

/** Polls with a bounded deadline: for state only observable by asking (ports, processes). */
export function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  deadlineMs = 30_000,
  intervalMs = 20,
): Promise<T> {
  return eventually(what, probe, deadlineMs, intervalMs);
}

/** pids of processes whose command line mentions `dir` (the broker's --config lives under it). */
export function processesUnder(dir: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(dir))
    .map((line) => Number(line.trim().split(/\s+/)[0]))
    .filter((pid) => pid !== process.pid);
}

export async function startDevStack(options: { operationDeadlineMs?: number } = {}): Promise<DevStack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-e2e-dev-'));
  // Retry-After 0: the SDK then polls at its updateIntervalInMs, which the tests set short.
  const dev = await startDev({
    port: 0,
    dataDir: dir,
    retryAfterSeconds: 0,
    operationDeadlineMs: options.operationDeadlineMs,
  });
  let local: LocalClusterHandles | undefined;
  try {
    const started = await startDevExtension(dev, dir, {
      mqttPorts: { tls: await freePort(), plain: await freePort() },
    });
    local = started.local;
    const { config } = dev;
    const client = devArmClient(dev);
    const cluster = local.cluster;
    const body = (properties: Record<string, unknown>) => ({
      location: config.location,
      extendedLocation: { name: config.customLocationId, type: 'CustomLocation' },
      properties,
    });
    return {
      dir,
      dev,
      local,
      mqtt: started.mqtt,
      client,
      brokerId: `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}/providers/Microsoft.IoTOperationsMQ/mq/mq-instance/broker/broker`,
      body,
      put: (id, properties, options) =>
        client.resources.beginCreateOrUpdateById(id, API_VERSION, body(properties), options),
      putAndWait: (id, properties, options) =>
        client.resources.beginCreateOrUpdateByIdAndWait(id, API_VERSION, body(properties), options),
      startAgent: () =>
        createAgent({
          rpUrl: dev.rpUrl,
          clusterId: config.clusterId,
          namespace: NAMESPACE,
          cluster,
          scope: config.agent.scope,
          ca: dev.caPem,
          credential: agentCredential(dev),
        }),
      async getJson(url) {
        const response = await client.sendRequest(createPipelineRequest({ url, method: 'GET' }));
        return { status: response.status, body: response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined };
      },
      async passwordSecret(name, users) {
        const lines = await Promise.all(
          Object.entries(users).map(
            async ([user, password]) => `[${user}]\npassword = "${await hashPassword(password, 1000)}"\n`,
          ),
        );
        await cluster.apply(
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name, namespace: NAMESPACE },
            type: 'Opaque',
            stringData: { 'passwords.toml': lines.join('') },
          },
          { fieldManager: 'iotmq-e2e' },
        );
      },
      async stop() {
        await local?.stop();
        await dev.close();
        // IOTMQ_E2E_KEEP=1 keeps the data dir (broker logs, rp.db, cluster.db) to read after a failure.
        if (!process.env.IOTMQ_E2E_KEEP) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await local?.stop();
    await dev.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

export { API_VERSION };
