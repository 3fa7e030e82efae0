// The whole push path onto Kubernetes, as a user would drive it: the Azure SDK (token from the
// identity stand-in) → ARM front door → RP → `iotmq agent` (child process, its own service principal,
// feed held through the front door) → custom resources on a real kube-apiserver → `iotmq operator`
// (child process, kubernetes driver) → ConfigMaps/Services/Deployments → status back to the RP and the
// SDK's long-running operations. The agent and operator run exactly as the Helm chart renders them,
// each with a token of its own ServiceAccount from the chart's RBAC.
//
// Simulated (no kubelet or controller-manager on the fixture, see test/peers/kube/README.md): the test
// runs the chart's containers itself (kube-cluster-stack.ts) and `deploymentController` marks each
// Deployment's replicas ready, which the operator waits for before a Broker is Ready.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_FIELD_MANAGER,
  AGENT_FINALIZER,
  crType,
  ETAG_ANNOTATION,
  RESOURCE_ID_ANNOTATION,
} from '../../extension/agent/index.js';
import type { Informer, KubeObject, ObjectType } from '../../extension/cluster/index.js';
import type { KubernetesCluster } from '../../extension/cluster/kubernetes.js';
import {
  BROKER_CONFIG_KEY,
  configMapName,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OPERATOR_FIELD_MANAGER,
  workloadName,
} from '../../extension/operator/index.js';
import { RP_AUDIENCE } from '../../src/cli/dev.js';
import { ensureHelm, HELM_BUILD_TIMEOUT_MS } from '../peers/helm.js';
import { KUBE_START_TIMEOUT_MS, startKube, type KubeFixture } from '../peers/kube/fixture.js';
import { awaitObjects } from '../integration/kube/await-objects.js';
import { createNamespace, installCrds, kubeClient } from '../integration/kube/kube-setup.js';
import { API_VERSION, NAMESPACE, processesUnder, startDevStack, type DevStack } from './dev-stack.js';
import {
  deploymentController,
  installChart,
  registerEdgeCluster,
  runContainer,
  serviceAccountKubeconfig,
  type Container,
  type EdgeCluster,
} from './kube-cluster-stack.js';

const CONFIG_MAP: ObjectType = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' };
const SERVICE: ObjectType = { apiVersion: 'v1', kind: 'Service', plural: 'services' };
const DEPLOYMENT: ObjectType = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' };
const STATEFUL_SET: ObjectType = { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' };
const SECRET: ObjectType = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' };
const CR_KINDS = ['Broker', 'BrokerListener', 'BrokerAuthentication'] as const;
const PASSWORDS = 'edge-passwords';
// ARM clients poll operations; the stand-in sends Retry-After: 0 and the SDK then polls this often.
const POLL = { updateIntervalInMs: 50 };

let kube: KubeFixture | undefined;
let stack: DevStack | undefined;
let admin: KubernetesCluster;
let client: ResourceManagementClient;
let edge: EdgeCluster;
let controller: Informer | undefined;
let chart: { agent: KubeObject; operator: KubeObject };
let podDir: string;
let agentKubeconfig: string;
const containers: Container[] = [];
let agent: Container | undefined;

const mqId = () =>
  `/subscriptions/${stack!.dev.config.subscriptionId}/resourceGroups/${stack!.dev.config.resourceGroup}/providers/Microsoft.IoTOperationsMQ/mq/mq-edge`;
const brokerId = () => `${mqId()}/broker/broker`;
const listenerId = () => `${brokerId()}/listener/edge-listener`;
const authnId = () => `${brokerId()}/authentication/edge-authn`;
const onEdge = (properties: Record<string, unknown>, tags?: Record<string, string>) => ({
  location: stack!.dev.config.location,
  extendedLocation: { name: edge.customLocationId, type: 'CustomLocation' },
  ...(tags ? { tags } : {}),
  properties,
});
const image = { repository: 'ghcr.io/iotmq/iotmq', tag: 'e2e' };
const listenerProperties = (port: number) => ({
  brokerRef: 'broker',
  port,
  serviceName: 'edge-frontend',
  serviceType: 'clusterIp',
  authenticationEnabled: true,
  authorizationEnabled: false,
});

async function startAgent(): Promise<Container> {
  const container = await runContainer(chart.agent, {
    admin,
    dir: podDir,
    kubeconfig: agentKubeconfig,
    // The image's CA bundle would hold the authority's CA; here the dev CA (for the token endpoint;
    // the RP's CA comes from the chart's rpCaConfigMap mount).
    extraEnv: { NODE_EXTRA_CA_CERTS: stack!.dev.config.caCertFile },
  });
  containers.push(container);
  return container;
}

const provisioningState = async (id: string) =>
  ((await client.resources.getById(id, API_VERSION)).properties as { provisioningState?: string }).provisioningState;
const notFound = (id: string) =>
  client.resources.getById(id, API_VERSION).then(
    () => 'found',
    (error: { statusCode?: number }) => error.statusCode,
  );
const crOf = (kind: string, name: string) => admin.get(crType(kind), NAMESPACE, name);
const ownedByOperator = (o: KubeObject) => o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
const output = () => containers.map((c) => `--- ${c.name} ---\n${c.output()}`).join('\n');

beforeAll(
  async () => {
    const helm = await ensureHelm();
    kube = await startKube();
    stack = await startDevStack();
    client = stack.client;
    podDir = path.join(stack.dir, 'pods');
    await mkdir(podDir, { recursive: true });

    admin = kubeClient(kube);
    await installCrds(admin);
    await createNamespace(admin, NAMESPACE);
    edge = await registerEdgeCluster(stack, client, {
      cluster: 'edge-2',
      customLocation: 'edge-2-cl',
      namespace: NAMESPACE,
    });

    // What an operator of the cluster does before `helm install`: the RP's CA as a ConfigMap (the dev
    // front door's certificate is not publicly trusted), and the MQTT password database as a Secret.
    await admin.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'iotmq-rp-ca', namespace: NAMESPACE },
        data: { 'ca.crt': stack.dev.caPem },
      },
      { fieldManager: 'kubectl' },
    );
    await admin.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: PASSWORDS, namespace: NAMESPACE },
        stringData: { 'passwords.toml': '' },
      },
      { fieldManager: 'kubectl' },
    );
    const { config } = stack.dev;
    chart = await installChart(helm, admin, NAMESPACE, {
      rpEndpoint: config.armEndpoint, // the agent API is reached through the front door
      clusterId: edge.clusterId,
      tokenScope: `${RP_AUDIENCE}/.default`,
      rpCaConfigMap: 'iotmq-rp-ca',
      'identity.tenantId': config.tenantId,
      'identity.clientId': edge.agent.clientId,
      'identity.clientSecret': edge.agent.clientSecret,
      'identity.authorityHost': config.authorityHost,
      'image.tag': image.tag,
    });
    agentKubeconfig = await serviceAccountKubeconfig(
      kube,
      NAMESPACE,
      'iotmq-agent',
      path.join(podDir, 'agent.kubeconfig'),
    );
    const operatorKubeconfig = await serviceAccountKubeconfig(
      kube,
      NAMESPACE,
      'iotmq-operator',
      path.join(podDir, 'operator.kubeconfig'),
    );
    controller = deploymentController(admin, NAMESPACE);
    containers.push(await runContainer(chart.operator, { admin, dir: podDir, kubeconfig: operatorKubeconfig }));
    agent = await startAgent();
  },
  Math.max(HELM_BUILD_TIMEOUT_MS, KUBE_START_TIMEOUT_MS),
);

afterAll(async () => {
  // IOTMQ_E2E_DEBUG=1 prints what the agent and operator logged (their own pino output, level info).
  if (process.env.IOTMQ_E2E_DEBUG) process.stderr.write(output());
  const codes = [];
  for (const container of containers) codes.push(await container.stop());
  controller?.stop();
  await stack?.stop();
  await kube?.stop();
  // Every child is gone (exit observed), and the ones still running at the end left on SIGTERM cleanly.
  for (const container of containers) expect(() => process.kill(container.child.pid!, 0)).toThrow(/ESRCH/);
  // Nothing outlives the run: no process mentions the dev data dir (pods' mounts live there) or the
  // fixture's dir (etcd, kube-apiserver).
  for (const dir of [stack?.dir, kube?.dir]) if (dir) expect(processesUnder(dir), dir).toEqual([]);
  expect(codes.filter((c) => c !== null && c !== 0)).toEqual([]);
});

describe('a Kubernetes connected cluster behind iotmq dev, driven through the Azure SDK', () => {
  it('mq, broker, listener and authentication on edge-2-cl complete Succeeded: CRs applied by the agent, workloads by the operator', async () => {
    const put = (id: string, properties: Record<string, unknown>) =>
      client.resources.beginCreateOrUpdateByIdAndWait(id, API_VERSION, onEdge(properties) as never, POLL);
    const results = [
      await put(mqId(), {}),
      await put(brokerId(), {
        mode: 'auto',
        memoryProfile: 'tiny',
        authImage: image,
        brokerImage: image,
        healthManagerImage: image,
      }),
      await put(listenerId(), listenerProperties(1883)),
      await put(authnId(), {
        listenerRef: ['edge-listener'],
        authenticationMethods: [{ usernamePassword: { secretName: PASSWORDS } }],
      }),
    ];
    expect(
      results.map((r) => (r.properties as { provisioningState: string }).provisioningState),
      output(),
    ).toEqual(['Succeeded', 'Succeeded', 'Succeeded', 'Succeeded']);

    for (const [kind, name, id] of [
      ['Broker', 'broker', brokerId()],
      ['BrokerListener', 'edge-listener', listenerId()],
      ['BrokerAuthentication', 'edge-authn', authnId()],
    ] as const) {
      const cr = (await crOf(kind, name))!;
      expect(cr, `${kind} ${name}`).toBeDefined();
      expect(cr.metadata.annotations?.[RESOURCE_ID_ANNOTATION]?.toLowerCase()).toBe(id.toLowerCase());
      expect(cr.metadata.annotations?.[ETAG_ANNOTATION]).toBeTruthy();
      expect(cr.metadata.finalizers).toContain(AGENT_FINALIZER);
      const managers = cr.metadata.managedFields!.map((m) => `${m.manager}${m.subresource ? `/${m.subresource}` : ''}`);
      expect(managers).toEqual(expect.arrayContaining([AGENT_FIELD_MANAGER, `${OPERATOR_FIELD_MANAGER}/status`]));
      expect((cr.status as { conditions: { type: string; status: string }[] }).conditions).toContainEqual(
        expect.objectContaining({ type: 'Ready', status: 'True' }),
      );
    }
    // The agent of edge-2 sees edge-2-cl only: the dev cluster's own mq-instance stays off this apiserver.
    const brokers = (await admin.list(crType('Broker'), { namespace: NAMESPACE })).items;
    expect(brokers.map((b) => b.metadata.annotations?.[RESOURCE_ID_ANNOTATION]?.toLowerCase())).toEqual([
      brokerId().toLowerCase(),
    ]);

    const configMap = (await admin.get(CONFIG_MAP, NAMESPACE, configMapName('broker')))!;
    const brokerConfig = JSON.parse((configMap.data as Record<string, string>)[BROKER_CONFIG_KEY]!);
    expect(JSON.stringify(brokerConfig)).toContain('edge-listener');
    const service = (await admin.get(SERVICE, NAMESPACE, 'edge-frontend'))!;
    expect((service.spec as { ports: { port: number }[] }).ports.map((p) => p.port)).toEqual([1883]);
    expect(service.metadata.ownerReferences?.[0]?.uid).toBe(
      (await crOf('BrokerListener', 'edge-listener'))!.metadata.uid,
    );
    const deployment = (await admin.get(DEPLOYMENT, NAMESPACE, workloadName('broker')))!;
    expect((deployment.spec as any).template.spec.containers[0].image).toBe(`${image.repository}:${image.tag}`);
  });

  it('with the agent killed, a tags PATCH completes and a listener change waits; the restarted agent converges it', async () => {
    expect(await agent!.stop('SIGKILL')).toBeNull(); // killed, not a clean exit
    const patched = await client.resources.beginUpdateByIdAndWait(
      listenerId(),
      API_VERSION,
      { tags: { site: 'edge-2' } },
      POLL,
    );
    expect(patched.tags).toEqual({ site: 'edge-2' }); // metadata only: ARM answers without the cluster
    const poller = await client.resources.beginCreateOrUpdateById(
      listenerId(),
      API_VERSION,
      onEdge(listenerProperties(1884), { site: 'edge-2' }) as never,
      POLL,
    );
    // The RP answers a PUT Accepted and only the cluster's report ends it.
    expect(['Accepted', 'Updating']).toContain(await provisioningState(listenerId()));
    // Nothing is torn down while the agent is away, and nothing moves either.
    expect(((await crOf('BrokerListener', 'edge-listener'))!.spec as { port: number }).port).toBe(1883);
    expect(await admin.get(SERVICE, NAMESPACE, 'edge-frontend')).toBeDefined();

    agent = await startAgent();
    const done = await poller.pollUntilDone();
    expect((done.properties as { provisioningState: string }).provisioningState, output()).toBe('Succeeded');
    expect(done.tags).toEqual({ site: 'edge-2' });
    expect(((await crOf('BrokerListener', 'edge-listener'))!.spec as { port: number }).port).toBe(1884);
    await awaitObjects(
      admin,
      SERVICE,
      NAMESPACE,
      (services) => services.some((s) => s.metadata.name === 'edge-frontend' && (s.spec as any).ports[0].port === 1884),
      'the listener Service on the new port',
    );
  });

  it('DELETE of the mq removes every CR and workload object, then GET is 404', async () => {
    await client.resources.beginDeleteByIdAndWait(mqId(), API_VERSION, POLL);
    for (const id of [mqId(), brokerId(), listenerId(), authnId()]) expect(await notFound(id), id).toBe(404);
    // The mq's DELETE completes only once its whole subtree is gone from the cluster [DEL-4]: the RP
    // holds the mq's Deleted report while children remain. So no CR and no row may be left now.
    for (const kind of CR_KINDS) {
      expect((await admin.list(crType(kind), { namespace: NAMESPACE })).items, `no ${kind} left`).toEqual([]);
    }
    const rows = stack!.dev.rpStore.resources;
    for (const id of [brokerId(), listenerId(), authnId()]) expect(await rows.get(id), id).toBeUndefined();
    // The operator prunes as it releases its finalizer; awaited on a watch rather than assumed done.
    for (const type of [CONFIG_MAP, SERVICE, DEPLOYMENT, STATEFUL_SET, SECRET]) {
      const left = await awaitObjects(
        admin,
        type,
        NAMESPACE,
        (objects) => !objects.some(ownedByOperator),
        `no ${type.kind} left`,
      );
      expect(left.filter(ownedByOperator), type.kind).toEqual([]);
    }
  });
});
