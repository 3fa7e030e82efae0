import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import type { FastifyInstance } from 'fastify';
import { API_VERSION, PROVIDER_NAMESPACE } from '../api/openapi.js';
import { caTrustOptions } from '../arm/ca-trust.js';
import { createArmCustomLocations } from '../arm/custom-location-client.js';
import { loadDevTls } from '../arm/dev-tls.js';
import { startFrontDoor, type FrontDoor } from '../arm/front-door.js';
import { loadOrCreateSigningKey } from '../arm/identity/index.js';
import { openArmStore, type ArmStore } from '../arm/store.js';
import { componentLogger } from '../common/log.js';
import { buildRp, createTokenVerifier } from '../rp/index.js';
import { createStore, type Store } from '../store/index.js';

export interface DevOptions {
  host?: string;
  port?: number;
  dataDir?: string;
  /** Seconds clients wait between polls; short in dev so `az` and the SDKs finish quickly. */
  retryAfterSeconds?: number;
  /** How long an operation waits for the cluster's agent before failing. */
  operationDeadlineMs?: number;
}

/** `<data-dir>/dev.json`: what a client needs to talk to this cloud. */
export interface DevConfig {
  armEndpoint: string;
  authorityHost: string;
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  clientId: string;
  clientSecret: string;
  caCertFile: string;
  clusterId: string;
  customLocationId: string;
  agent: { clientId: string; clientSecret: string; scope: string; endpoint: string };
}

/** The MQTT user of the default broker: made once per data dir, so clients keep working across restarts. */
export interface MqttCredentials {
  username: string;
  password: string;
}

export interface DevHandles {
  config: DevConfig;
  mqttCredentials: MqttCredentials;
  configFile: string;
  caPem: string;
  frontDoor: FrontDoor;
  rp: FastifyInstance;
  rpUrl: string;
  rpStore: Store;
  armStore: ArmStore;
  close(): Promise<void>;
}

/** What `iotmq dev` keeps in its data dir (each with its companions, e.g. rp.db-wal): nothing else there is its own. */
export const DATA_DIR_ENTRIES = [
  'arm.db',
  'rp.db',
  'ca.pem',
  'ca-key.pem',
  'identity-signing-key.json',
  'dev-state.json',
  'dev.json',
  'local-cluster',
] as const;

/** The RP's app id URI: the audience of tokens the front door and agents present to it. */
export const RP_AUDIENCE = 'api://iotmq-rp';
const RESOURCE_GROUP = 'iotmq-local';
const LOCATION = 'eastus';
const CLUSTER = 'local-cluster';
const CUSTOM_LOCATION = 'local-cl';
const NAMESPACE = 'azure-iot-operations';

/** Identities made on first start; secrets the front door itself needs are kept here (0600). */
interface DevState {
  tenantId: string;
  subscriptionId: string;
  frontDoor: { clientId: string; clientSecret: string };
  rp: { clientId: string; clientSecret: string };
  user: { clientId: string; clientSecret: string };
  agent: { clientId: string; clientSecret: string };
  /** Absent in data dirs from before it was kept here (then made on the next start). */
  mqtt?: MqttCredentials;
  bootstrapped: boolean;
}

const log = componentLogger('dev');

/**
 * `iotmq dev`: the front door (ARM + identity) on HTTPS, the RP behind it on its own loopback
 * port with the embedded SQLite store, and on first start a tenant, subscription, resource group,
 * connected cluster, custom location and service principals — all in `dataDir`, so a restart
 * finds everything again. The agent/operator are started by whoever holds the returned handles.
 */
export async function startDev(options: DevOptions = {}): Promise<DevHandles> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = path.resolve(options.dataDir ?? '.iotmq');
  await mkdir(dataDir, { recursive: true });
  const tls = await loadDevTls(dataDir, host);
  const armStore = openArmStore(path.join(dataDir, 'arm.db'));
  const signingKey = await loadOrCreateSigningKey(dataDir);
  const state = await loadState(dataDir);
  if (!state.mqtt) {
    state.mqtt = { username: 'iotmq', password: randomBytes(18).toString('base64url') };
    await saveState(dataDir, state);
  }
  const mqttCredentials = state.mqtt;

  let rpUrl = '';
  const closers: (() => Promise<void>)[] = [async () => armStore.close()];
  const close = async () => {
    for (const fn of closers.splice(0).reverse())
      await fn().catch((error: unknown) => log.error({ err: error }, 'shutdown step failed'));
  };
  try {
    const frontDoor = await startFrontDoor({
      store: armStore,
      signingKey,
      tls,
      host,
      port: options.port ?? 8443,
      rp: { url: () => rpUrl, audience: RP_AUDIENCE },
      principal: () => ({ tenantId: state.tenantId, ...state.frontDoor }),
      adfsTenant: state.tenantId,
      retryAfterSeconds: options.retryAfterSeconds ?? 2,
      maxPollMs: 1000,
    });
    closers.push(() => frontDoor.close());

    if (!state.bootstrapped && !state.user.clientId) {
      await createDirectory(frontDoor, armStore, state);
      await saveState(dataDir, state); // before anything can fail: the plaintext secrets exist only here
    }

    const rpStore = await createStore(`sqlite:${path.join(dataDir, 'rp.db')}`);
    closers.push(() => rpStore.close());
    const rpCredential = new ClientSecretCredential(state.tenantId, state.rp.clientId, state.rp.clientSecret, {
      authorityHost: frontDoor.url,
      disableInstanceDiscovery: true,
      ...caTrustOptions(tls.caPem),
    });
    const rp = await buildRp({
      store: rpStore,
      customLocations: createArmCustomLocations({
        endpoint: frontDoor.url,
        credential: rpCredential,
        caPem: tls.caPem,
      }),
      // Keys are read from the identity stand-in in-process: Node's fetch (jose's remote JWKS)
      // cannot be given the dev CA without a process-wide setting.
      auth: createTokenVerifier({
        issuers: frontDoor.identity.issuersOf(state.tenantId),
        audiences: [RP_AUDIENCE],
        jwks: signingKey.jwks,
        authorizationUri: `${frontDoor.url}/${state.tenantId}`,
      }),
      // Only the front door may use the ARM routes: a user token sent straight to the RP's loopback
      // port would skip every ARM check (registration, RG, tenant) and forge x-ms-client-* headers.
      armCallers: [state.frontDoor.clientId],
      retryAfterSeconds: options.retryAfterSeconds ?? 2,
      operationDeadlineMs: options.operationDeadlineMs,
    });
    await rp.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => rp.close());
    rpUrl = `http://127.0.0.1:${(rp.server.address() as { port: number }).port}`;
    frontDoor.markReady();

    const config: DevConfig = {
      armEndpoint: frontDoor.url,
      authorityHost: frontDoor.url,
      tenantId: state.tenantId,
      subscriptionId: state.subscriptionId,
      resourceGroup: RESOURCE_GROUP,
      location: LOCATION,
      clientId: state.user.clientId,
      clientSecret: state.user.clientSecret,
      caCertFile: tls.caCertFile,
      clusterId: clusterIdOf(state),
      customLocationId: customLocationIdOf(state),
      agent: { ...state.agent, scope: `${RP_AUDIENCE}/.default`, endpoint: frontDoor.url },
    };
    if (!state.bootstrapped) {
      await bootstrapResources(config, tls.caPem);
      state.bootstrapped = true;
      await saveState(dataDir, state);
    }
    const configFile = path.join(dataDir, 'dev.json');
    await writeFile(configFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
    await chmod(configFile, 0o600);
    log.info({ armEndpoint: config.armEndpoint, dataDir }, 'iotmq dev is ready');
    return { config, configFile, mqttCredentials, caPem: tls.caPem, frontDoor, rp, rpUrl, rpStore, armStore, close };
  } catch (error) {
    await close();
    throw error;
  }
}

const clusterIdOf = (s: DevState) =>
  `/subscriptions/${s.subscriptionId}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Kubernetes/connectedClusters/${CLUSTER}`;
const customLocationIdOf = (s: DevState) =>
  `/subscriptions/${s.subscriptionId}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.ExtendedLocation/customLocations/${CUSTOM_LOCATION}`;

async function loadState(dataDir: string): Promise<DevState> {
  const file = path.join(dataDir, 'dev-state.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as DevState;
  return {
    tenantId: randomUUID(),
    subscriptionId: randomUUID(),
    frontDoor: { clientId: '', clientSecret: '' },
    rp: { clientId: '', clientSecret: '' },
    user: { clientId: '', clientSecret: '' },
    agent: { clientId: '', clientSecret: '' },
    bootstrapped: false,
  };
}

async function saveState(dataDir: string, state: DevState): Promise<void> {
  const file = path.join(dataDir, 'dev-state.json');
  await writeFile(file, JSON.stringify(state, null, 2), { mode: 0o600 });
  await chmod(file, 0o600);
}

/** The directory side of first start: tenant, subscription and service principals (with hashed secrets). */
async function createDirectory(frontDoor: FrontDoor, store: ArmStore, state: DevState): Promise<void> {
  store.tenants.put({ id: state.tenantId, displayName: 'iotmq local' });
  store.subscriptions.put({
    id: state.subscriptionId,
    tenantId: state.tenantId,
    displayName: 'iotmq local subscription',
    state: 'Enabled',
  });
  const make = async (displayName: string, managedIdentityResourceId?: string) => {
    const { principal, clientSecret } = await frontDoor.identity.createServicePrincipal({
      tenantId: state.tenantId,
      displayName,
      managedIdentityResourceId,
    });
    return { clientId: principal.clientId, clientSecret };
  };
  state.frontDoor = await make('iotmq front door');
  state.rp = await make('iotmq resource provider');
  state.user = await make('iotmq dev user');
  state.agent = await make(`iotmq agent (${CLUSTER})`, clusterIdOf(state));
}

/** ARM as the dev user (dev.json's service principal) calls it, trusting the dev CA. */
export function userArmClient(config: DevConfig, caPem: string): ResourceManagementClient {
  const credential = new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, {
    authorityHost: config.authorityHost,
    disableInstanceDiscovery: true,
    ...caTrustOptions(caPem),
  });
  return new ResourceManagementClient(credential, config.subscriptionId, {
    endpoint: config.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
    ...caTrustOptions(caPem),
  });
}

/** The ARM side of first start, through the public API as the user would: provider, group, cluster, custom location. */
async function bootstrapResources(config: DevConfig, caPem: string): Promise<void> {
  const client = userArmClient(config, caPem);
  await client.providers.register(PROVIDER_NAMESPACE);
  await client.resourceGroups.createOrUpdate(RESOURCE_GROUP, { location: LOCATION, tags: { 'iotmq-dev': 'true' } });
  await client.resources.beginCreateOrUpdateByIdAndWait(config.clusterId, '2024-01-01', {
    location: LOCATION,
    properties: { distribution: 'iotmq-local' },
  });
  await client.resources.beginCreateOrUpdateByIdAndWait(config.customLocationId, '2021-08-15', {
    location: LOCATION,
    properties: { hostResourceId: config.clusterId, namespace: NAMESPACE, hostType: 'Kubernetes' },
  } as never);
  log.info({ apiVersion: API_VERSION }, 'first start: provider registered, local cluster and custom location created');
}

/** What `iotmq dev` prints: the endpoints and ready-to-paste snippets. */
export function devInstructions(config: DevConfig, configFile: string): string {
  return `iotmq dev is running.

  ARM endpoint     ${config.armEndpoint}
  Tenant           ${config.tenantId}
  Subscription     ${config.subscriptionId}
  Resource group   ${config.resourceGroup}
  Custom location  ${config.customLocationId}
  CA certificate   ${config.caCertFile}
  Credentials      ${configFile}

az CLI:
  export REQUESTS_CA_BUNDLE=${config.caCertFile} AZURE_CORE_INSTANCE_DISCOVERY=false
  az cloud register -n iotmq --endpoint-resource-manager ${config.armEndpoint}/
  az cloud set -n iotmq
  az login --service-principal -u ${config.clientId} -p "$(jq -r .clientSecret ${configFile})" --tenant ${config.tenantId}
  az group show -n ${config.resourceGroup}

JavaScript (NODE_EXTRA_CA_CERTS=${config.caCertFile}):
  const credential = new ClientSecretCredential('${config.tenantId}', '${config.clientId}', secret,
    { authorityHost: '${config.authorityHost}', disableInstanceDiscovery: true });
  const client = new ResourceManagementClient(credential, '${config.subscriptionId}',
    { endpoint: '${config.armEndpoint}', credentialScopes: ['https://management.azure.com/.default'] });
`;
}
