// `iotmq dev`, extension part (issue 5): the local cluster (cluster API + agent + operator with the
// local driver) for the dev cloud's connected cluster, and on first start the product's default
// resources created through the public API as `az iot ops init` does — an mq, its broker, a TLS
// listener on 8883, a plain one on 1883 and a username/password authentication — whose MQTT
// settings are printed and kept in dev.json under `mqtt`.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { API_VERSION } from '../api/openapi.js';
import { caTrustOptions } from '../arm/ca-trust.js';
import { hashPassword } from '../../extension/broker/auth/password-db.js';
import { startLocalCluster, type LocalClusterHandles } from '../../extension/operator/index.js';
import type { DevHandles } from './dev.js';

const NAMESPACE = 'azure-iot-operations';
const PASSWORD_SECRET = 'iotmq-dev-passwords';

export interface DevMqtt {
  host: string;
  ports: { tls: number; plain: number };
  username: string;
  password: string;
  caFile: string;
}

/**
 * Options for tests and benchmarks only; `iotmq dev` itself uses the defaults. The default
 * listeners take 8883/1883 like `az iot ops init`; a test that runs beside a real broker (or
 * another `iotmq dev`) moves them to free ports instead.
 */
export interface DevExtensionOptions {
  mqttPorts?: { tls: number; plain: number };
}

export async function startDevExtension(
  dev: DevHandles,
  dataDir: string,
  options: DevExtensionOptions = {},
): Promise<{ local: LocalClusterHandles; mqtt: DevMqtt }> {
  const ports = options.mqttPorts ?? { tls: 8883, plain: 1883 };
  const { config } = dev;
  const agentCredential = new ClientSecretCredential(
    config.tenantId,
    config.agent.clientId,
    config.agent.clientSecret,
    {
      authorityHost: config.authorityHost,
      disableInstanceDiscovery: true,
      ...caTrustOptions(dev.caPem),
    },
  );
  const local = await startLocalCluster({
    dataDir: path.join(dataDir, 'local-cluster'),
    rpUrl: dev.rpUrl,
    clusterId: config.clusterId,
    namespace: NAMESPACE,
    credential: agentCredential,
    scope: config.agent.scope,
    ca: dev.caPem,
  });
  const saved = JSON.parse(await readFile(dev.configFile, 'utf8')) as { mqtt?: DevMqtt };
  if (saved.mqtt) return { local, mqtt: saved.mqtt };

  const username = 'iotmq';
  const password = randomBytes(18).toString('base64url');
  await local.cluster.apply(
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: PASSWORD_SECRET, namespace: NAMESPACE },
      type: 'Opaque',
      stringData: { 'passwords.toml': `[${username}]\npassword = "${await hashPassword(password)}"\n` },
    },
    { fieldManager: 'iotmq-dev' },
  );
  const credential = new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, {
    authorityHost: config.authorityHost,
    disableInstanceDiscovery: true,
    ...caTrustOptions(dev.caPem),
  });
  const client = new ResourceManagementClient(credential, config.subscriptionId, {
    endpoint: config.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
    ...caTrustOptions(dev.caPem),
  });
  const mq = `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}/providers/Microsoft.IoTOperationsMQ/mq/mq-instance`;
  const put = (id: string, properties: Record<string, unknown>) =>
    client.resources.beginCreateOrUpdateByIdAndWait(id, API_VERSION, {
      location: config.location,
      extendedLocation: { name: config.customLocationId, type: 'CustomLocation' },
      properties,
    } as never);
  const image = (name: string) => ({
    repository: `mcr.microsoft.com/azureiotoperations/${name}`,
    tag: '0.1.0-preview',
  });
  await put(mq, {});
  await put(`${mq}/broker/broker`, {
    mode: 'auto',
    memoryProfile: 'medium',
    encryptInternalTraffic: false,
    authImage: image('dmqtt-authentication'),
    brokerImage: image('dmqtt-pod'),
    healthManagerImage: image('dmqtt-operator'),
  });
  await put(`${mq}/broker/broker/listener/listener`, {
    brokerRef: 'broker',
    port: ports.tls,
    serviceName: 'aio-mq-dmqtt-frontend',
    serviceType: 'clusterIp',
    authenticationEnabled: true,
    authorizationEnabled: false,
    tls: { automatic: { issuerRef: { name: 'mq-dmqtt-frontend', kind: 'Issuer', group: 'cert-manager.io' } } },
  });
  await put(`${mq}/broker/broker/listener/non-tls-listener`, {
    brokerRef: 'broker',
    port: ports.plain,
    serviceName: 'aio-mq-dmqtt-frontend-nontls',
    serviceType: 'clusterIp',
    authenticationEnabled: true,
    authorizationEnabled: false,
  });
  await put(`${mq}/broker/broker/authentication/authn`, {
    listenerRef: ['listener', 'non-tls-listener'],
    authenticationMethods: [{ usernamePassword: { secretName: PASSWORD_SECRET } }],
  });

  const mqtt: DevMqtt = {
    host: '127.0.0.1',
    ports,
    username,
    password,
    caFile: path.join(local.driverDir, 'data', 'broker', 'tls', 'ca.crt'),
  };
  await writeFile(dev.configFile, `${JSON.stringify({ ...saved, mqtt }, null, 2)}\n`, { mode: 0o600 });
  return { local, mqtt };
}

export function mqttInstructions(mqtt: DevMqtt): string {
  return [
    '',
    'MQTT broker (local cluster):',
    `  mosquitto_sub -h ${mqtt.host} -p ${mqtt.ports.plain} -u ${mqtt.username} -P '${mqtt.password}' -t 'demo/#' -v`,
    `  mosquitto_pub -h ${mqtt.host} -p ${mqtt.ports.tls} --cafile ${mqtt.caFile} -u ${mqtt.username} -P '${mqtt.password}' -t demo/1 -m hello`,
    '',
  ].join('\n');
}
