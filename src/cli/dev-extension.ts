// `iotmq dev`, extension part (issue 5): the local cluster (cluster API + agent + operator with the
// local driver) for the dev cloud's connected cluster, and the product's default resources created
// through the public API as `az iot ops init` does — an mq, its broker, a TLS listener (8883) and a
// plain one (1883) and a username/password authentication — whose MQTT settings are printed and
// kept in dev.json under `mqtt`.
//
// What stays the same across restarts: the MQTT user and password (made once, in the data dir's
// state) and the listeners' ports (those the resources have, unless a flag moves them). A port held
// by another program ends the start with what to do, before anything is started.
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { crObjectType } from '../api/custom-resources.js';
import { API_VERSION } from '../api/openapi.js';
import { caTrustOptions } from '../arm/ca-trust.js';
import { hashPassword, parsePasswordDatabase, verifyPassword } from '../../extension/broker/auth/password-db.js';
import { freePort, isAccepting, isBindable } from '../../extension/operator/drivers/port-probe.js';
import {
  RECONCILED_KINDS,
  reclaimLocalWorkloads,
  startLocalCluster,
  workloadsDirOf,
  type LocalClusterHandles,
} from '../../extension/operator/index.js';
import type { LocalCluster } from '../../extension/cluster/index.js';
import { userArmClient, type DevHandles, type MqttCredentials } from './dev.js';

const NAMESPACE = 'azure-iot-operations';
const PASSWORD_SECRET = 'iotmq-dev-passwords';
const DEFAULT_PORTS = { tls: 8883, plain: 1883 };
/** How long the broker may take to accept connections on a start that creates nothing. */
const BROKER_START_MS = 60_000;

export interface DevMqtt {
  host: string;
  ports: { tls: number; plain: number };
  username: string;
  password: string;
  caFile: string;
  /** Whether the broker is up, as `iotmq dev` last knew (a process killed with -9 leaves `running`). */
  state: 'starting' | 'running' | 'stopped' | 'failed';
  /** Why it failed, for `failed`. */
  problem?: string;
}

export interface DevExtensionOptions {
  /**
   * Ports of the default listeners. A number is used (0: the port they have if it is free, else
   * any free one); absent: the port they have (on first start 8883 and 1883).
   */
  mqttPorts?: { tls?: number; plain?: number };
  /** A stop while starting: everything started so far is stopped and the promise rejects. */
  signal?: AbortSignal;
  /** Progress lines for the user. */
  progress?: (line: string) => void;
}

/** The MQTT ports asked for (or kept from the last start) are held by another program. */
export class MqttPortsTakenError extends Error {
  override name = 'MqttPortsTakenError';
}

export interface DevExtension {
  local: LocalClusterHandles;
  mqtt: DevMqtt;
}

export async function startDevExtension(
  dev: DevHandles,
  dataDir: string,
  options: DevExtensionOptions = {},
): Promise<DevExtension> {
  const { config } = dev;
  const signal = options.signal;
  const clusterDir = path.join(dataDir, 'local-cluster');
  // A broker an earlier run left behind (its process died without stopping it) holds our ports.
  await reclaimLocalWorkloads(workloadsDirOf(clusterDir));
  const client = userArmClient(config, dev.caPem);
  const ids = defaultResourceIds(config);
  const current = {
    tls: await listenerPort(client, ids.tlsListener, signal),
    plain: await listenerPort(client, ids.plainListener, signal),
  };
  const ports = {
    tls: await choosePort(options.mqttPorts?.tls, current.tls, DEFAULT_PORTS.tls),
    plain: await choosePort(options.mqttPorts?.plain, current.plain, DEFAULT_PORTS.plain),
  };
  const mqtt: DevMqtt = {
    host: '127.0.0.1',
    ports,
    ...dev.mqttCredentials,
    caFile: path.join(workloadsDirOf(clusterDir), 'data', 'broker', 'tls', 'ca.crt'),
    state: 'starting',
  };
  // Written before anything can fail: the credentials hold whether or not this start succeeds.
  await recordMqtt(dev.configFile, mqtt);

  let local: LocalClusterHandles | undefined;
  try {
    await refuseTakenPorts(ports, options.mqttPorts ?? {});
    options.progress?.(`starting the local cluster (MQTT on port ${ports.plain}, MQTT over TLS on ${ports.tls})…`);
    signal?.throwIfAborted();
    local = await startLocalCluster({
      dataDir: clusterDir,
      rpUrl: dev.rpUrl,
      clusterId: config.clusterId,
      namespace: NAMESPACE,
      credential: new ClientSecretCredential(config.tenantId, config.agent.clientId, config.agent.clientSecret, {
        authorityHost: config.authorityHost,
        disableInstanceDiscovery: true,
        ...caTrustOptions(dev.caPem),
      }),
      scope: config.agent.scope,
      ca: dev.caPem,
    });
    await ensurePasswordSecret(local.cluster, dev.mqttCredentials);
    await ensureDefaultResources(client, dev, ids, ports, current, signal);
    await untilAccepting(local, [ports.plain, ports.tls], signal);
  } catch (error) {
    await local?.stop();
    await recordMqtt(
      dev.configFile,
      signal?.aborted
        ? { ...mqtt, state: 'stopped' }
        : { ...mqtt, state: 'failed', problem: error instanceof Error ? error.message : String(error) },
    );
    throw error;
  }
  return { local, mqtt: await recordMqtt(dev.configFile, { ...mqtt, state: 'running' }) };
}

/** Updates dev.json's `mqtt` section (the rest of the file as it is); returns what it wrote. */
export async function recordMqtt(configFile: string, mqtt: DevMqtt): Promise<DevMqtt> {
  const saved = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  await writeFile(configFile, `${JSON.stringify({ ...saved, mqtt }, null, 2)}\n`, { mode: 0o600 });
  return mqtt;
}

type DefaultIds = ReturnType<typeof defaultResourceIds>;

function defaultResourceIds(config: DevHandles['config']) {
  const mq = `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}/providers/Microsoft.IoTOperationsMQ/mq/mq-instance`;
  const broker = `${mq}/broker/broker`;
  return {
    mq,
    broker,
    tlsListener: `${broker}/listener/listener`,
    plainListener: `${broker}/listener/non-tls-listener`,
    authentication: `${broker}/authentication/authn`,
  };
}

/** A resource's properties, or undefined when it does not exist. */
async function getProperties(
  client: ResourceManagementClient,
  id: string,
  signal: AbortSignal | undefined,
): Promise<Record<string, unknown> | undefined> {
  try {
    return (await client.resources.getById(id, API_VERSION, { abortSignal: signal })).properties as Record<
      string,
      unknown
    >;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

async function listenerPort(client: ResourceManagementClient, id: string, signal?: AbortSignal) {
  const properties = await getProperties(client, id, signal);
  return typeof properties?.port === 'number' ? properties.port : undefined;
}

/** The port to use: the one asked for; 0 = the current one if free, else any free one; none = the current one. */
async function choosePort(asked: number | undefined, current: number | undefined, fallback: number): Promise<number> {
  if (asked === undefined) return current ?? fallback;
  if (asked !== 0) return asked;
  if (current !== undefined && (await isBindable(current))) return current;
  return freePort();
}

async function refuseTakenPorts(ports: DevMqtt['ports'], asked: DevExtensionOptions['mqttPorts'] & object) {
  const listeners = [
    { port: ports.plain, what: 'the plain MQTT listener', flag: '--mqtt-port', asked: asked.plain !== undefined },
    { port: ports.tls, what: 'the MQTT over TLS listener', flag: '--mqtts-port', asked: asked.tls !== undefined },
  ];
  const taken = [];
  for (const listener of listeners) if (!(await isBindable(listener.port))) taken.push(listener);
  if (!taken.length) return;
  const lines = taken.map(
    ({ port, what, asked }) =>
      `port ${port} (${what}, ${asked ? 'as asked' : port === 1883 || port === 8883 ? 'the default' : 'kept from the last start'}) is in use by another program${port === 1883 || port === 8883 ? ', often another MQTT broker such as mosquitto' : ''}`,
  );
  throw new MqttPortsTakenError(
    [
      `iotmq dev: MQTT cannot start: ${lines.join('; ')}.`,
      `Stop that program, or give iotmq dev other ports: ${taken.map((t) => `${t.flag} PORT`).join(' ')} (0 picks a free one), e.g.`,
      `  iotmq dev ${taken.map((t) => `${t.flag} 0`).join(' ')}`,
      'The ports chosen are kept for the next start.',
    ].join('\n'),
  );
}

/** The password database Secret, holding the hash of the data dir's password (re-made only if it does not verify). */
async function ensurePasswordSecret(cluster: LocalCluster, credentials: MqttCredentials): Promise<void> {
  const secret = await cluster.get({ apiVersion: 'v1', kind: 'Secret' }, NAMESPACE, PASSWORD_SECRET);
  const toml =
    (secret?.stringData as Record<string, string> | undefined)?.['passwords.toml'] ??
    Buffer.from((secret?.data as Record<string, string> | undefined)?.['passwords.toml'] ?? '', 'base64').toString();
  const entry = toml ? parsePasswordDatabase(toml).get(credentials.username) : undefined;
  if (entry && (await verifyPassword(Buffer.from(credentials.password), entry.password))) return;
  await cluster.apply(
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: PASSWORD_SECRET, namespace: NAMESPACE },
      type: 'Opaque',
      stringData: {
        'passwords.toml': `[${credentials.username}]\npassword = "${await hashPassword(credentials.password)}"\n`,
      },
    },
    { fieldManager: 'iotmq-dev' },
  );
}

/**
 * The default resources, through the public API: each one missing is created; a default listener
 * whose port is not the one chosen is updated (its other settings, which a user may have changed,
 * are kept). Nothing is sent when all is in place, so a restart leaves the user's changes alone.
 */
async function ensureDefaultResources(
  client: ResourceManagementClient,
  dev: DevHandles,
  ids: DefaultIds,
  ports: DevMqtt['ports'],
  current: { tls?: number; plain?: number },
  signal: AbortSignal | undefined,
): Promise<void> {
  const { config } = dev;
  const put = (id: string, properties: Record<string, unknown>) =>
    client.resources.beginCreateOrUpdateByIdAndWait(
      id,
      API_VERSION,
      {
        location: config.location,
        extendedLocation: { name: config.customLocationId, type: 'CustomLocation' },
        properties,
      } as never,
      { abortSignal: signal },
    );
  const ensure = async (id: string, properties: Record<string, unknown>) => {
    if (!(await getProperties(client, id, signal))) await put(id, properties);
  };
  const image = (name: string) => ({
    repository: `mcr.microsoft.com/azureiotoperations/${name}`,
    tag: '0.1.0-preview',
  });
  await ensure(ids.mq, {});
  await ensure(ids.broker, {
    mode: 'auto',
    memoryProfile: 'medium',
    encryptInternalTraffic: false,
    authImage: image('dmqtt-authentication'),
    brokerImage: image('dmqtt-pod'),
    healthManagerImage: image('dmqtt-operator'),
  });
  const listener = async (id: string, port: number, wasPort: number | undefined, defaults: Record<string, unknown>) => {
    if (wasPort === port) return;
    const existing = wasPort === undefined ? undefined : await getProperties(client, id, signal);
    const { provisioningState: _readOnly, ...kept } = existing ?? defaults;
    await put(id, { ...kept, port });
  };
  await listener(ids.tlsListener, ports.tls, current.tls, {
    brokerRef: 'broker',
    serviceName: 'aio-mq-dmqtt-frontend',
    serviceType: 'clusterIp',
    authenticationEnabled: true,
    authorizationEnabled: false,
    tls: { automatic: { issuerRef: { name: 'mq-dmqtt-frontend', kind: 'Issuer', group: 'cert-manager.io' } } },
  });
  await listener(ids.plainListener, ports.plain, current.plain, {
    brokerRef: 'broker',
    serviceName: 'aio-mq-dmqtt-frontend-nontls',
    serviceType: 'clusterIp',
    authenticationEnabled: true,
    authorizationEnabled: false,
  });
  await ensure(ids.authentication, {
    listenerRef: ['listener', 'non-tls-listener'],
    authenticationMethods: [{ usernamePassword: { secretName: PASSWORD_SECRET } }],
  });
}

async function untilAccepting(local: LocalClusterHandles, ports: number[], signal: AbortSignal | undefined) {
  const deadline = Date.now() + BROKER_START_MS;
  for (;;) {
    signal?.throwIfAborted();
    const waiting = [];
    for (const port of ports) if (!(await isAccepting(port))) waiting.push(port);
    if (!waiting.length) return;
    if (Date.now() > deadline) {
      const why = await notReady(local.cluster);
      throw new Error(
        `the MQTT broker does not accept connections on port ${waiting.join(' and ')} after ${BROKER_START_MS / 1000} s` +
          `${why.length ? ` (${why.join('; ')})` : ''}; its log is in ${path.join(local.driverDir, 'logs')}`,
      );
    }
    await sleep(50, undefined, { signal });
  }
}

/** What the operator says of each resource that is not Ready: `BrokerListener/x: PortInUse: …`. */
async function notReady(cluster: LocalCluster): Promise<string[]> {
  const found = [];
  for (const kind of RECONCILED_KINDS) {
    for (const cr of (await cluster.list(crObjectType(kind), { namespace: NAMESPACE })).items) {
      const conditions = (cr.status?.conditions ?? []) as {
        type: string;
        status: string;
        reason?: string;
        message?: string;
      }[];
      const ready = conditions.find((c) => c.type === 'Ready');
      if (ready?.status === 'False') found.push(`${kind}/${cr.metadata.name}: ${ready.reason}: ${ready.message}`);
    }
  }
  return found;
}

/** What `iotmq dev` prints about MQTT: where to connect, and where the password is (never the password). */
export function mqttInstructions(mqtt: DevMqtt, configFile: string): string {
  const password = `"$(jq -r .mqtt.password ${configFile})"`;
  return [
    '',
    'MQTT broker (local cluster):',
    `  MQTT             ${mqtt.host}:${mqtt.ports.plain}`,
    `  MQTT over TLS    ${mqtt.host}:${mqtt.ports.tls} (CA ${mqtt.caFile})`,
    `  User             ${mqtt.username}, password in ${configFile} (mqtt.password)`,
    `  mosquitto_sub -h ${mqtt.host} -p ${mqtt.ports.plain} -u ${mqtt.username} -P ${password} -t 'demo/#' -v`,
    `  mosquitto_pub -h ${mqtt.host} -p ${mqtt.ports.tls} --cafile ${mqtt.caFile} -u ${mqtt.username} -P ${password} -t demo/1 -m hello`,
    '',
  ].join('\n');
}
