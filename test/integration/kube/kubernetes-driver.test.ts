// The operator with the Kubernetes driver against a real kube-apiserver: the CRs of a namespace
// become exactly the planned ConfigMaps, Services and Deployments, server-side applied by
// `iotmq-operator`, owned by their CRs and labelled; an unchanged plan writes nothing; a removed
// listener's Service is pruned.
//
// No kubelet, scheduler or controller-manager runs here (see test/peers/kube/README.md): the
// Deployments are stored but never get Pods, so this checks the objects the API server keeps, not
// running containers — listener conditions stay Ready=False/Starting, as they would on a cluster
// whose pods have not come up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectKey, type KubeObject, type ObjectType } from '../../../extension/cluster/index.js';
import type { KubernetesCluster } from '../../../extension/cluster/kubernetes.js';
import {
  createOperator,
  render,
  OPERATOR_FIELD_MANAGER,
  MANAGED_BY_LABEL,
  MANAGED_BY,
  type Operator,
} from '../../../extension/operator/index.js';
import {
  CONTAINER_LAYOUT,
  createKubernetesDriver,
  MANAGED_SELECTOR,
  PLANNED_TYPES,
} from '../../../extension/operator/drivers/kubernetes.js';
import { crType } from '../../../extension/agent/index.js';
import type { Driver } from '../../../extension/operator/plan.js';
import { useKube } from '../../peers/kube/fixture.js';
import { awaitObjects } from './await-objects.js';
import { createNamespace, installCrds, kubeClient } from './kube-setup.js';

const NS = 'driver';
const IMAGE = 'ghcr.io/iotmq/iotmq:test';
const image = { repository: 'ghcr.io/iotmq/iotmq', tag: 'test' };
const cr = (kind: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: crType(kind).apiVersion,
  kind,
  metadata: { name, namespace: NS },
  spec,
});
const BROKER = cr('Broker', 'broker', {
  mode: 'auto',
  authImage: image,
  brokerImage: image,
  healthManagerImage: image,
});
const PLAIN = cr('BrokerListener', 'plain', { brokerRef: 'broker', port: 1883 });
const EXTRA = cr('BrokerListener', 'extra', { brokerRef: 'broker', port: 2883, serviceType: 'loadBalancer' });
const AUTHN = cr('BrokerAuthentication', 'authn', {
  listenerRef: ['plain'],
  authenticationMethods: [{ usernamePassword: { secretName: 'mqtt-users' } }],
});
const SECRET: ObjectType = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' };
const SERVICE = PLANNED_TYPES.find((t) => t.kind === 'Service')!;
const DEPLOYMENT = PLANNED_TYPES.find((t) => t.kind === 'Deployment')!;

describe('operator + Kubernetes driver (real kube-apiserver; objects only, no kubelet)', () => {
  const kube = useKube();
  let client: KubernetesCluster;
  let driver: Driver;
  let operator: Operator;
  /** Resolvers waiting for the operator's next completed driver.apply (one reconcile). */
  let applied: (() => void)[] = [];
  const nextReconcile = () => new Promise<void>((resolve) => applied.push(resolve));

  beforeAll(async () => {
    client = kubeClient(kube());
    await installCrds(client);
    await createNamespace(client, NS);
    await client.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'mqtt-users', namespace: NS },
        stringData: { 'passwords.json': '{}' },
      },
      { fieldManager: 'kubectl' },
    );
    driver = createKubernetesDriver({ cluster: client, namespace: NS });
    // The operator gets the driver through a wrapper that tells the test when a reconcile has applied a plan.
    const observed: Driver = {
      ...driver,
      layout: driver.layout,
      apply: async (plan) => {
        const outcome = await driver.apply(plan);
        const waiting = applied;
        applied = [];
        waiting.forEach((resolve) => resolve());
        return outcome;
      },
    };
    operator = createOperator({ cluster: client, driver: observed, namespace: NS, image: IMAGE, resyncMs: 300 });
    await operator.ready;
  });
  afterAll(async () => {
    await operator?.stop();
    await driver?.stop();
  });

  /** Everything in the namespace the operator manages, by kind/namespace/name. */
  async function managed(): Promise<Map<string, KubeObject>> {
    const all = await Promise.all(
      PLANNED_TYPES.map((t) => client.list(t, { namespace: NS, labelSelector: MANAGED_SELECTOR })),
    );
    return new Map(all.flatMap((r) => r.items).map((o) => [objectKey(o), o]));
  }

  /** The plan render() makes from what the API server holds now. */
  async function expectedPlan() {
    const crs = (
      await Promise.all(
        ['Broker', 'BrokerListener', 'BrokerAuthentication'].map((k) => client.list(crType(k), { namespace: NS })),
      )
    ).flatMap((r) => r.items);
    const secrets = new Set((await client.list(SECRET, { namespace: NS })).items.map((s) => s.metadata.name));
    return render({
      namespace: NS,
      crs,
      secrets,
      configMaps: new Set(),
      portsInUse: new Set(),
      layout: CONTAINER_LAYOUT,
      image: IMAGE,
    });
  }

  it('a Broker + two BrokerListeners + a BrokerAuthentication become exactly the planned objects: SSA by iotmq-operator, owned, labelled', async () => {
    for (const object of [BROKER, PLAIN, EXTRA, AUTHN]) await client.apply(object, { fieldManager: 'kubectl' });
    await awaitObjects(client, SERVICE, NS, (services) => services.length === 2, 'two listener Services');
    await awaitObjects(
      client,
      crType('BrokerAuthentication'),
      NS,
      ([a]) => (a?.status as { observedGeneration?: number } | undefined)?.observedGeneration === 1,
      'authn status',
    );

    const plan = await expectedPlan();
    const stored = await managed();
    expect([...stored.keys()].sort()).toEqual(plan.objects.map(objectKey).sort());
    expect([...stored.keys()].sort()).toEqual([
      'ConfigMap/driver/broker-config',
      'Deployment/driver/broker-frontend',
      'Service/driver/aio-mq-dmqtt-frontend-extra',
      'Service/driver/aio-mq-dmqtt-frontend-plain',
    ]);

    for (const want of plan.objects) {
      const got = stored.get(objectKey(want))!;
      expect(got.metadata.labels).toMatchObject({ [MANAGED_BY_LABEL]: MANAGED_BY });
      const owner = want.metadata.ownerReferences![0]!;
      expect(got.metadata.ownerReferences).toEqual([
        {
          apiVersion: owner.apiVersion,
          kind: owner.kind,
          name: owner.name,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      const apply = got.metadata.managedFields?.find(
        (m) => m.manager === OPERATOR_FIELD_MANAGER && m.operation === 'Apply',
      );
      expect(apply, `${objectKey(want)} applied by ${OPERATOR_FIELD_MANAGER}`).toBeDefined();
      if (want.kind === 'ConfigMap') expect(got.data).toEqual(want.data);
      if (want.kind === 'Service') expect(got.spec).toMatchObject(want.spec!);
      if (want.kind === 'Deployment') {
        const container = (got.spec as any).template.spec.containers[0];
        expect(container.image).toBe(IMAGE);
        expect(container.args).toEqual(['broker', '--config', '/etc/iotmq/configmaps/broker-config/broker.json']);
        expect((got.spec as { replicas: number }).replicas).toBe(1);
        // The Secret the authentication reads is mounted.
        expect(container.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain(
          '/etc/iotmq/secrets/mqtt-users',
        );
      }
    }
    // Owners are the CRs themselves: listener Services belong to their listener, the rest to the broker.
    const uid = async (kind: string, name: string) => (await client.get(crType(kind), NS, name))!.metadata.uid;
    expect(stored.get('Service/driver/aio-mq-dmqtt-frontend-plain')!.metadata.ownerReferences![0]!.uid).toBe(
      await uid('BrokerListener', 'plain'),
    );
    expect(stored.get('Deployment/driver/broker-frontend')!.metadata.ownerReferences![0]!.uid).toBe(
      await uid('Broker', 'broker'),
    );
    expect((stored.get('Service/driver/aio-mq-dmqtt-frontend-extra')!.spec as { type: string }).type).toBe(
      'LoadBalancer',
    );

    // No kubelet: the Deployment never reports ready replicas, so the listener waits (Info, not Error).
    const listener = await client.get(crType('BrokerListener'), NS, 'plain');
    expect((listener!.status as { conditions: { reason: string; severity: string }[] }).conditions[0]).toMatchObject({
      reason: 'Starting',
      severity: 'Info',
    });
  });

  it('re-reconciling an unchanged namespace writes nothing: every resourceVersion stays', async () => {
    const before = new Map([...(await managed())].map(([key, o]) => [key, o.metadata.resourceVersion]));
    // Drive two full reconciles by hand through the same driver the operator uses.
    for (let i = 0; i < 2; i++) await driver.apply(await expectedPlan());
    // And the operator's own reconciles: an unrelated ConfigMap wakes it; wait for two full passes.
    const passes = nextReconcile().then(nextReconcile);
    await client.apply(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated', namespace: NS }, data: { a: 'b' } },
      { fieldManager: 'kubectl' },
    );
    await passes;
    const after = new Map([...(await managed())].map(([key, o]) => [key, o.metadata.resourceVersion]));
    expect(after).toEqual(before);
  });

  it('removing a listener prunes its Service; the Deployment follows the new plan', async () => {
    await client.delete(crType('BrokerListener'), NS, 'extra');
    const services = await awaitObjects(client, SERVICE, NS, (s) => s.length === 1, 'one Service left');
    // One listener left: its Service takes the plain serviceName again.
    expect(services.map((s) => s.metadata.name)).toEqual(['aio-mq-dmqtt-frontend']);
    // The CR itself is released (operator finalizer removed) and gone: nothing collects it otherwise.
    await awaitObjects(client, crType('BrokerListener'), NS, (l) => l.length === 1, 'extra listener gone');
    const deployment = (
      await awaitObjects(
        client,
        DEPLOYMENT,
        NS,
        ([d]) => !JSON.stringify(d?.spec).includes('2883'),
        'deployment without port 2883',
      )
    )[0]!;
    expect((deployment.spec as any).template.spec.containers[0].ports).toEqual([
      { containerPort: 1883, protocol: 'TCP' },
    ]);
    expect([...(await managed()).keys()].sort()).toEqual((await expectedPlan()).objects.map(objectKey).sort());
  });
});
