// The agent and the operator on a real kube-apiserver, with a running RP: ARM resources become
// custom resources, the operator's status flows back and completes the RP's operations, deletion
// waits for every finalizer, and a CR applied by another field manager (Flux's
// kustomize-controller) is reconciled by the operator and never modified by the agent.
//
// No kubelet or controller-manager runs (test/peers/kube/README.md): `deploymentController` below
// plays the Deployment controller and kubelet by writing each Deployment's status as "all replicas
// ready" — the only thing on the cluster side that is simulated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import {
  createAgent,
  crType,
  AGENT_FIELD_MANAGER,
  AGENT_FINALIZER,
  RESOURCE_ID_ANNOTATION,
  type Agent,
} from '../../../extension/agent/index.js';
import type { Informer, KubeObject } from '../../../extension/cluster/index.js';
import type { KubernetesCluster } from '../../../extension/cluster/kubernetes.js';
import {
  createKubernetesDriver,
  createOperator,
  OPERATOR_FIELD_MANAGER,
  type Operator,
} from '../../../extension/operator/index.js';
import type { Driver } from '../../../extension/operator/plan.js';
import { useKube } from '../../peers/kube/fixture.js';
import {
  API,
  CLUSTER,
  CUSTOM_LOCATION,
  mqBody,
  registerSubscription,
  rg,
  startRp,
  type RpHarness,
} from '../rp/harness.js';
import { eventually } from '../../support/eventually.js';
import { awaitObjects } from './await-objects.js';
import { createNamespace, deploymentController, installCrds, kubeClient } from './kube-setup.js';

const NS = 'azure-iot-operations';
const LISTENER = crType('BrokerListener');
const SERVICE = { apiVersion: 'v1', kind: 'Service', plural: 'services' } as const;

const body = (tag: keyof typeof SAMPLES, properties: Record<string, unknown> = {}) => ({
  location: 'eastus',
  extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
  properties: { ...SAMPLES[tag]!.properties, ...properties },
});
const plainListener = (port: number) =>
  body('BrokerListener', { port, tls: undefined, authenticationEnabled: false, authorizationEnabled: false });
const listenerPath = (name: string) => `${rg()}/mq/plant/broker/broker/listener/${name}`;

describe('agent + operator on a real kube-apiserver, fed by a running RP', () => {
  const kube = useKube();
  let client: KubernetesCluster;
  let rp: RpHarness;
  let agent: Agent;
  let driver: Driver;
  let operator: Operator;
  let controller: Informer;

  const state = async (path: string) => {
    const response = await rp.call('GET', `${path}?${API}`);
    return response.status === 404 ? 'NotFound' : (response.body.properties?.provisioningState as string);
  };
  const untilState = (path: string, wanted: string) =>
    eventually(`${path} ${wanted}`, async () => (await state(path)) === wanted, 30_000);
  /** The async operation a PUT/DELETE started (Azure-AsyncOperation), where the RP keeps the failure. */
  const operationOf = async (response: { headers: Headers }) => {
    const url = new URL(response.headers.get('azure-asyncoperation')!);
    return (await rp.call('GET', url.pathname + url.search)).body as {
      status: string;
      error?: { code: string; message: string };
    };
  };

  beforeAll(async () => {
    client = kubeClient(kube());
    await installCrds(client);
    await createNamespace(client, NS);
    rp = await startRp();
    await registerSubscription(rp);
    controller = deploymentController(client, NS);
    driver = createKubernetesDriver({ cluster: client, namespace: NS });
    operator = createOperator({ cluster: client, driver, namespace: NS, resyncMs: 200 });
    agent = createAgent({
      rpUrl: rp.url,
      clusterId: CLUSTER,
      namespace: NS,
      cluster: client,
      credential: {
        getToken: async () => ({ token: await rp.agentToken(), expiresOnTimestamp: Date.now() + 3_600_000 }),
      },
      backoff: { initialMs: 20, maxMs: 200 },
    });
    await Promise.all([agent.synced, operator.ready]);
    expect((await rp.call('PUT', `${rg()}/mq/plant?${API}`, mqBody())).status).toBe(201);
    await untilState(`${rg()}/mq/plant`, 'Succeeded');
    expect((await rp.call('PUT', `${rg()}/mq/plant/broker/broker?${API}`, body('Broker'))).status).toBe(201);
    await untilState(`${rg()}/mq/plant/broker/broker`, 'Succeeded');
  });

  afterAll(async () => {
    await agent?.stop();
    await operator?.stop();
    await driver?.stop();
    controller?.stop();
    await rp?.close();
  });

  it('a listener PUT through the RP becomes a CR applied by iotmq-agent; the operator makes it Ready and the operation Succeeds', async () => {
    expect((await rp.call('PUT', `${listenerPath('plain')}?${API}`, plainListener(1883))).status).toBe(201);
    await untilState(listenerPath('plain'), 'Succeeded');
    const cr = (await client.get(LISTENER, NS, 'plain'))!;
    expect(cr.metadata.annotations?.[RESOURCE_ID_ANNOTATION]?.toLowerCase()).toBe(listenerPath('plain').toLowerCase());
    expect(cr.metadata.finalizers).toEqual(expect.arrayContaining([AGENT_FINALIZER, 'iotmq.azure.com/operator']));
    expect(cr.spec).toMatchObject({ brokerRef: 'broker', port: 1883 });
    const managers = cr.metadata
      .managedFields!.map((m) => `${m.manager}${m.subresource ? `/${m.subresource}` : ''}`)
      .sort();
    expect(managers).toEqual([AGENT_FIELD_MANAGER, OPERATOR_FIELD_MANAGER, `${OPERATOR_FIELD_MANAGER}/status`]);
    expect((cr.status as { conditions: { status: string }[] }).conditions[0]!.status).toBe('True');
    expect((await client.get(SERVICE, NS, 'aio-mq-dmqtt-frontend'))?.metadata.ownerReferences?.[0]?.uid).toBe(
      cr.metadata.uid,
    );
  });

  it('a terminal condition from the operator (PortConflict, severity Error) fails the operation with its reason', async () => {
    const put = await rp.call('PUT', `${listenerPath('clash')}?${API}`, plainListener(1883));
    expect(put.status).toBe(201);
    await untilState(listenerPath('clash'), 'Failed');
    const operation = await operationOf(put);
    expect(operation.status).toBe('Failed');
    expect(operation.error).toMatchObject({
      code: 'PortConflict',
      message: "Port 1883 is already used by listener 'plain'.",
    });
  });

  it('DELETE through the RP completes only after every finalizer on the CR is gone', async () => {
    // Someone else's finalizer (e.g. a backup tool) holds the CR after the agent's and the operator's are released.
    await client.apply(
      {
        apiVersion: LISTENER.apiVersion,
        kind: LISTENER.kind,
        metadata: { name: 'clash', namespace: NS, finalizers: ['example.com/hold'] },
      },
      { fieldManager: 'backup-tool' },
    );
    expect((await rp.call('DELETE', `${listenerPath('clash')}?${API}`)).status).toBe(202);
    const [held] = await awaitObjects(
      client,
      LISTENER,
      NS,
      (crs) =>
        crs.some(
          (cr) =>
            cr.metadata.name === 'clash' &&
            cr.metadata.deletionTimestamp &&
            !cr.metadata.finalizers?.includes('iotmq.azure.com/operator'),
        ),
      'clash marked for deletion, operator released',
    );
    expect(held).toBeDefined();
    expect(await state(listenerPath('clash'))).toBe('Deleting');
    await client.removeFinalizer(LISTENER, NS, 'clash', 'example.com/hold');
    await untilState(listenerPath('clash'), 'NotFound');
    expect(await client.get(LISTENER, NS, 'clash')).toBeUndefined();
  });

  it('a CR applied by kustomize-controller (GitOps) is reconciled by the operator and never touched by the agent, even when the RP asks for the same name', async () => {
    const gitops: KubeObject = {
      apiVersion: LISTENER.apiVersion,
      kind: LISTENER.kind,
      metadata: { name: 'gitops', namespace: NS, labels: { 'kustomize.toolkit.fluxcd.io/name': 'mq' } },
      spec: { brokerRef: 'broker', port: 2883, serviceName: 'gitops-frontend' },
    };
    await client.apply(gitops, { fieldManager: 'kustomize-controller' });
    const [ready] = await awaitObjects(
      client,
      LISTENER,
      NS,
      (crs) =>
        crs.some(
          (cr) =>
            cr.metadata.name === 'gitops' &&
            (cr.status as { conditions?: { status: string }[] } | undefined)?.conditions?.[0]?.status === 'True',
        ),
      'gitops listener Ready',
    );
    expect(ready).toBeDefined();
    expect(await client.get(SERVICE, NS, 'gitops-frontend')).toBeDefined();

    // The RP asks for a listener of the same name: the agent refuses to take the CR over.
    const put = await rp.call('PUT', `${listenerPath('gitops')}?${API}`, plainListener(3883));
    expect(put.status).toBe(201);
    await untilState(listenerPath('gitops'), 'Failed');
    expect((await operationOf(put)).error?.code).toBe('CustomResourceConflict');
    await agent.idle();
    const after = (await client.get(LISTENER, NS, 'gitops'))!;
    expect(after.spec).toMatchObject({ port: 2883 });
    expect(after.metadata.managedFields!.map((m) => m.manager)).not.toContain(AGENT_FIELD_MANAGER);
    expect(after.metadata.finalizers).toEqual(['iotmq.azure.com/operator']);
    expect(after.metadata.annotations?.[RESOURCE_ID_ANNOTATION]).toBeUndefined();
    // Deleting the RP resource leaves the GitOps CR alone too.
    expect((await rp.call('DELETE', `${listenerPath('gitops')}?${API}`)).status).toBe(202);
    await untilState(listenerPath('gitops'), 'NotFound');
    expect((await client.get(LISTENER, NS, 'gitops'))?.metadata.deletionTimestamp).toBeUndefined();
  });
});
