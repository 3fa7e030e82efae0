// The Helm chart's RBAC on a real API server: the rendered ServiceAccounts, Roles and RoleBindings
// are applied, then the test acts as each ServiceAccount with a token from the TokenRequest API —
// through the same Kubernetes ClusterClient the agent and operator use — doing what each needs
// (allowed) and what it must not (refused with 403).
import { KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  isClusterError,
  type ClusterClient,
  type KubeObject,
  type ObjectType,
} from '../../../extension/cluster/index.js';
import { createKubernetesCluster, type KubernetesCluster } from '../../../extension/cluster/kubernetes.js';
import { AGENT_FIELD_MANAGER, AGENT_FINALIZER, createAgent, crType } from '../../../extension/agent/index.js';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import { API, CLUSTER, CUSTOM_LOCATION, mqBody, registerSubscription, rg, startRp } from '../rp/harness.js';
import {
  createKubernetesDriver,
  createOperator,
  OPERATOR_FIELD_MANAGER,
  OPERATOR_FINALIZER,
} from '../../../extension/operator/index.js';
import { awaitObjects } from './await-objects.js';
import { ensureHelm, HELM_BUILD_TIMEOUT_MS } from '../../peers/helm.js';
import { API_AUDIENCE, kubeRequest, useKube, type KubeFixture } from '../../peers/kube/fixture.js';
import { renderChart } from '../chart/render-chart.js';
import { createNamespace, installCrds, kubeClient } from './kube-setup.js';

const NS = 'iotmq-system';
const LISTENER = crType('BrokerListener');
const DEPLOYMENT: ObjectType = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' };
const SECRET: ObjectType = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' };
const CONFIG_MAP: ObjectType = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' };

/** A client acting as a ServiceAccount: a bound token from TokenRequest, the fixture's server and CA. */
async function clientAs(kube: KubeFixture, serviceAccount: string): Promise<KubernetesCluster> {
  const response = await kubeRequest(kube, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/${serviceAccount}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: [API_AUDIENCE], expirationSeconds: 3600 },
  });
  if (response.status !== 201)
    throw new Error(`TokenRequest for ${serviceAccount}: ${response.status} ${response.text}`);
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'kube', server: kube.server, caData: Buffer.from(kube.ca).toString('base64') }],
    users: [{ name: serviceAccount, token: response.body.status.token }],
    contexts: [{ name: 'sa', cluster: 'kube', user: serviceAccount }],
    currentContext: 'sa',
  });
  return createKubernetesCluster({ config });
}

async function refused(call: Promise<unknown>): Promise<void> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isClusterError(error, 'Forbidden'), `expected 403, got ${String(error)}`).toBe(true);
  expect((error as { status: number }).status).toBe(403);
}

/** RBAC decisions follow the authorizer's informer cache: the first allowed call may need a moment. */
async function once<T>(call: () => Promise<T>, deadlineMs = 10_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isClusterError(error, 'Forbidden') || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const listener = (name: string, metadata: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: LISTENER.apiVersion,
  kind: LISTENER.kind,
  metadata: { name, namespace: NS, ...metadata },
  spec: { brokerRef: 'broker', port: 1883 },
});

describe('Helm chart RBAC on a real kube-apiserver (ServiceAccount tokens via TokenRequest)', () => {
  const kube = useKube();
  let admin: KubernetesCluster;
  let agent: ClusterClient;
  let operator: ClusterClient;

  beforeAll(async () => {
    const helm = await ensureHelm();
    admin = kubeClient(kube());
    await installCrds(admin);
    await createNamespace(admin, NS);
    await createNamespace(admin, 'elsewhere');
    const rendered = await renderChart(helm, NS);
    const rbac = rendered.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
    expect(rbac.map((o) => o.kind).sort()).toEqual([
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'ServiceAccount',
      'ServiceAccount',
    ]);
    for (const object of rbac) await admin.apply(object, { fieldManager: 'helm' });
    agent = await clientAs(kube(), 'iotmq-agent');
    operator = await clientAs(kube(), 'iotmq-operator');
  }, HELM_BUILD_TIMEOUT_MS);

  it('the agent applies, watches, reads status of, deletes and releases its custom resources', async () => {
    await once(() => agent.list(LISTENER, { namespace: NS }));
    const created = await agent.apply(listener('from-rp', { finalizers: [AGENT_FINALIZER] }), {
      fieldManager: AGENT_FIELD_MANAGER,
      force: true,
    });
    expect(created.metadata.uid).toBeTruthy();
    const start = await agent.list(LISTENER, { namespace: NS });
    const abort = new AbortController();
    const stream = agent.watch(LISTENER, {
      namespace: NS,
      resourceVersion: start.resourceVersion,
      signal: abort.signal,
    });
    const events = stream[Symbol.asyncIterator]();
    await agent.delete(LISTENER, NS, 'from-rp');
    expect((await events.next()).value).toMatchObject({ type: 'MODIFIED' }); // deletionTimestamp set
    await agent.removeFinalizer(LISTENER, NS, 'from-rp', AGENT_FINALIZER);
    expect((await events.next()).value).toMatchObject({ type: 'DELETED' });
    abort.abort();
    const status = await kubeRequest(
      kube(),
      'GET',
      `/apis/${LISTENER.apiVersion}/namespaces/${NS}/brokerlisteners`,
      undefined,
      { token: null },
    ).catch(() => undefined);
    expect(status?.status).toBe(401); // sanity: nothing is anonymous
  });

  it('the agent may not write status, touch workloads or Secrets, or leave its namespace', async () => {
    await once(() => agent.list(LISTENER, { namespace: NS }));
    await admin.apply(listener('l1'), { fieldManager: 'kubectl' });
    await refused(
      agent.patchStatus(LISTENER, NS, 'l1', { observedGeneration: 1 }, { fieldManager: AGENT_FIELD_MANAGER }),
    );
    await refused(
      agent.apply(
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', namespace: NS }, spec: {} },
        { fieldManager: AGENT_FIELD_MANAGER },
      ),
    );
    await refused(agent.list(SECRET, { namespace: NS }));
    await refused(agent.list(LISTENER, { namespace: 'elsewhere' }));
    await refused(agent.list(LISTENER)); // cluster-wide
  });

  it('the operator reads CRs, adds/removes its finalizer, writes status, applies and prunes ConfigMaps, Secrets, Services, Deployments, StatefulSets', async () => {
    await once(() => operator.list(LISTENER, { namespace: NS }));
    await admin.apply(listener('l2'), { fieldManager: 'kustomize-controller' });
    await operator.apply(
      {
        apiVersion: LISTENER.apiVersion,
        kind: LISTENER.kind,
        metadata: { name: 'l2', namespace: NS, finalizers: [OPERATOR_FINALIZER] },
      },
      { fieldManager: OPERATOR_FIELD_MANAGER },
    );
    const condition = {
      type: 'Ready',
      status: 'True',
      reason: 'Ready',
      message: 'ok',
      observedGeneration: 1,
      lastTransitionTime: '2024-01-01T00:00:00Z',
    };
    const withStatus = await operator.patchStatus(
      LISTENER,
      NS,
      'l2',
      { observedGeneration: 1, conditions: [condition] },
      { fieldManager: OPERATOR_FIELD_MANAGER },
    );
    expect(withStatus.status?.conditions).toEqual([condition]);
    await operator.removeFinalizer(LISTENER, NS, 'l2', OPERATOR_FINALIZER);
    const labels = { 'app.kubernetes.io/managed-by': 'iotmq-operator' };
    const meta = (name: string) => ({ name, namespace: NS, labels });
    const selector = { 'app.kubernetes.io/instance': 'b' };
    const podTemplate = {
      metadata: { labels: selector },
      spec: { containers: [{ name: 'broker', image: 'ghcr.io/iotmq/iotmq:test' }] },
    };
    const planned: KubeObject[] = [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('b-config'), data: { 'broker.json': '{}' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: meta('b-secret'), stringData: { a: 'b' } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: meta('b-svc'),
        spec: { selector, ports: [{ port: 1883, targetPort: 1883, protocol: 'TCP' }] },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta('b-frontend'),
        spec: { replicas: 1, selector: { matchLabels: selector }, template: podTemplate },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: meta('b-backend'),
        spec: { replicas: 1, serviceName: 'b-svc', selector: { matchLabels: selector }, template: podTemplate },
      },
    ];
    for (const object of planned) await operator.apply(object, { fieldManager: OPERATOR_FIELD_MANAGER, force: true });
    expect(
      (await operator.list(SECRET, { namespace: NS, labelSelector: 'app.kubernetes.io/managed-by=iotmq-operator' }))
        .items,
    ).toHaveLength(1);
    expect((await operator.list(CONFIG_MAP, { namespace: NS })).items.map((c) => c.metadata.name)).toContain(
      'b-config',
    );
    await operator.delete(DEPLOYMENT, NS, 'b-frontend');
    expect(await operator.get(DEPLOYMENT, NS, 'b-frontend')).toBeUndefined();
  });

  it('the operator may not create or delete CRs, read Secrets outside its namespace or cluster-wide, or manage RBAC', async () => {
    await once(() => operator.list(LISTENER, { namespace: NS }));
    await refused(operator.apply(listener('invented'), { fieldManager: OPERATOR_FIELD_MANAGER }));
    await admin.apply(listener('l3'), { fieldManager: 'kubectl' });
    await refused(operator.delete(LISTENER, NS, 'l3'));
    await refused(operator.list(SECRET)); // cluster-wide
    await refused(operator.list(SECRET, { namespace: 'elsewhere' }));
    await refused(operator.list(SECRET, { namespace: 'kube-system' }));
    await refused(
      operator.apply(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'escalate', namespace: NS },
          rules: [],
        },
        { fieldManager: OPERATOR_FIELD_MANAGER },
      ),
    );
  });
  it('the real operator (informers, finalizer, plan, status) runs with nothing but its ServiceAccount', async () => {
    await once(() => operator.list(LISTENER, { namespace: NS }));
    const image = { repository: 'ghcr.io/iotmq/iotmq', tag: 'rbac' };
    const driver = createKubernetesDriver({ cluster: operator, namespace: NS });
    const running = createOperator({ cluster: operator, driver, namespace: NS, resyncMs: 500 });
    try {
      await running.ready;
      await admin.apply(
        {
          apiVersion: LISTENER.apiVersion,
          kind: 'Broker',
          metadata: { name: 'rbac', namespace: NS },
          spec: { mode: 'auto', authImage: image, brokerImage: image, healthManagerImage: image },
        },
        { fieldManager: 'kubectl' },
      );
      await admin.apply(
        { ...listener('rbac-l'), spec: { brokerRef: 'rbac', port: 1884 } },
        { fieldManager: 'kubectl' },
      );
      await awaitObjects(
        admin,
        DEPLOYMENT,
        NS,
        (d) => d.some((o) => o.metadata.name === 'rbac-frontend'),
        'the Deployment the operator applies',
      );
      await awaitObjects(
        admin,
        LISTENER,
        NS,
        (l) =>
          l.some(
            (o) =>
              o.metadata.name === 'rbac-l' &&
              (o.status as { observedGeneration?: number } | undefined)?.observedGeneration === 1,
          ),
        'status written by the operator',
      );
    } finally {
      await running.stop();
      await driver.stop();
    }
  });
  it('the real agent (RP feed → CRs) runs with nothing but its ServiceAccount', async () => {
    await once(() => agent.list(LISTENER, { namespace: NS }));
    const rp = await startRp();
    const running = createAgent({
      rpUrl: rp.url,
      clusterId: CLUSTER,
      namespace: NS,
      cluster: agent,
      credential: {
        getToken: async () => ({ token: await rp.agentToken(), expiresOnTimestamp: Date.now() + 3_600_000 }),
      },
      backoff: { initialMs: 20, maxMs: 200 },
    });
    try {
      await registerSubscription(rp);
      await running.synced;
      const properties = { ...SAMPLES.Broker!.properties };
      expect((await rp.call('PUT', `${rg()}/mq/plant?${API}`, mqBody())).status).toBe(201);
      const put = await rp.call('PUT', `${rg()}/mq/plant/broker/from-feed?${API}`, {
        location: 'eastus',
        extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
        properties,
      });
      expect(put.status).toBe(201);
      const brokers = await awaitObjects(
        admin,
        crType('Broker'),
        NS,
        (b) => b.some((o) => o.metadata.name === 'from-feed'),
        'the Broker CR the agent applies',
      );
      const broker = brokers.find((o) => o.metadata.name === 'from-feed');
      expect(broker!.metadata.managedFields?.map((m) => m.manager)).toEqual([AGENT_FIELD_MANAGER]);
    } finally {
      await running.stop();
      await rp.close();
    }
  });
});
