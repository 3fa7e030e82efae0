// The agent between a real RP (over HTTP, through a TCP proxy the test can cut) and the local
// cluster API. The test plays the operator's part by writing CR status conditions through the
// cluster API, as the operator does; test/e2e runs the real operator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import {
  createAgent,
  crType,
  AGENT_FINALIZER,
  AGENT_FIELD_MANAGER,
  ETAG_ANNOTATION,
  RESOURCE_ID_ANNOTATION,
  type Agent,
} from '../../../extension/agent/index.js';
import {
  createLocalCluster,
  loadChartCrds,
  type KubeObject,
  type LocalCluster,
} from '../../../extension/cluster/index.js';
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
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const NS = 'azure-iot-operations';
const LISTENER = crType('BrokerListener');
const OPERATOR_FINALIZER = 'iotmq.azure.com/operator';

let rp: RpHarness;
let proxy: TcpProxy;
let cluster: LocalCluster;
let agent: Agent;

const body = (tag: keyof typeof SAMPLES, properties: Record<string, unknown> = {}) => ({
  location: 'eastus',
  extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
  properties: { ...SAMPLES[tag]!.properties, ...properties },
});
const listenerPath = (name: string) => `${rg()}/mq/plant/broker/broker/listener/${name}`;
const state = async (path: string) => {
  const response = await rp.call('GET', `${path}?${API}`);
  return response.status === 404 ? 'NotFound' : (response.body.properties?.provisioningState as string);
};
const untilState = (path: string, wanted: string) =>
  eventually(`${path} ${wanted}`, async () => (await state(path)) === wanted);

/** What the operator does: Ready for the CR's current generation. */
async function setReady(name: string, ready: boolean, extra: Record<string, unknown> = {}) {
  const cr = await eventually(`CR ${name}`, () => cluster.get(LISTENER, NS, name));
  await cluster.patchStatus(
    LISTENER,
    NS,
    name,
    {
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'Ready' : 'PortInUse',
          message: ready ? 'Listening' : 'port 1883 is in use',
          observedGeneration: cr.metadata.generation,
          lastTransitionTime: new Date().toISOString(), // required by the CRD's condition schema
          ...extra,
        },
      ],
    },
    { fieldManager: 'iotmq-operator' },
  );
}

function startAgent(on: LocalCluster = cluster): Agent {
  return createAgent({
    rpUrl: `http://127.0.0.1:${proxy.port}`,
    clusterId: CLUSTER,
    namespace: NS,
    cluster: on,
    credential: {
      getToken: async () => ({ token: await rp.agentToken(), expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
    backoff: BACKOFF,
  });
}

/** The agent's retry backoff here: the longest it waits between two attempts is maxMs. */
const BACKOFF = { initialMs: 20, maxMs: 200 };

beforeAll(async () => {
  rp = await startRp();
  await registerSubscription(rp);
  proxy = await startTcpProxy(Number(new URL(rp.url).port));
  cluster = createLocalCluster();
  agent = startAgent();
  await agent.synced;
  expect((await rp.call('PUT', `${rg()}/mq/plant?${API}`, mqBody())).status).toBe(201);
  await untilState(`${rg()}/mq/plant`, 'Succeeded'); // mq has no CR: the agent answers at once
  expect((await rp.call('PUT', `${rg()}/mq/plant/broker/broker?${API}`, body('Broker'))).status).toBe(201);
});

afterAll(async () => {
  await agent?.stop();
  cluster?.close();
  await proxy?.close();
  await rp?.close();
});

describe('agent: RP feed → custom resources → status back', () => {
  it('applies a listener as a CR (annotations, label, finalizer, spec = properties) and completes the operation when Ready', async () => {
    const put = await rp.call('PUT', `${listenerPath('tls')}?${API}`, body('BrokerListener'));
    expect(put.status).toBe(201);
    const cr = await eventually('listener CR', () => cluster.get(LISTENER, NS, 'tls'));
    expect(cr.metadata.annotations?.[RESOURCE_ID_ANNOTATION]?.toLowerCase()).toBe(listenerPath('tls').toLowerCase());
    expect(cr.metadata.annotations?.[ETAG_ANNOTATION]).toBe(
      put.body.etag ??
        put.headers.get('etag')?.replace(/^W\//, '').replace(/"/g, '') ??
        cr.metadata.annotations?.[ETAG_ANNOTATION],
    );
    expect(cr.metadata.labels).toEqual({ 'management.azure.com/provider-name': 'microsoft.iotoperationsmq' });
    expect(cr.metadata.finalizers).toEqual([AGENT_FINALIZER]);
    expect(cr.spec).toEqual(SAMPLES.BrokerListener!.properties);
    expect(cr.metadata.managedFields?.map((m) => m.manager)).toEqual([AGENT_FIELD_MANAGER]);
    await untilState(listenerPath('tls'), 'Provisioning'); // the agent says it picked it up

    await setReady('tls', true);
    await untilState(listenerPath('tls'), 'Succeeded');
    const operation = new URL(put.headers.get('azure-asyncoperation')!);
    expect((await rp.call('GET', operation.pathname + operation.search)).body.status).toBe('Succeeded');
  });

  it('reports only for the generation it applied: an update waits for the operator to observe it', async () => {
    await rp.call('PUT', `${listenerPath('tls')}?${API}`, body('BrokerListener', { port: 9883 }));
    await eventually('generation 2', async () => (await cluster.get(LISTENER, NS, 'tls'))?.metadata.generation === 2);
    // Ready is still True, but for generation 1: not a completion of the update.
    expect(await state(listenerPath('tls'))).not.toBe('Succeeded');
    await setReady('tls', true);
    await untilState(listenerPath('tls'), 'Succeeded');
  });

  it('a terminal False condition fails the operation with its reason and message', async () => {
    const put = await rp.call(
      'PUT',
      `${listenerPath('busy')}?${API}`,
      body('BrokerListener', { port: 1883, tls: undefined }),
    );
    await setReady('busy', false, { severity: 'Error' });
    await untilState(listenerPath('busy'), 'Failed');
    const operation = new URL(put.headers.get('azure-asyncoperation')!);
    const result = (await rp.call('GET', operation.pathname + operation.search)).body;
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ code: 'PortInUse', message: 'port 1883 is in use' });
  });

  it('DELETE completes only after the operator released its finalizer and the CR is gone', async () => {
    await rp.call('PUT', `${listenerPath('doomed')}?${API}`, body('BrokerListener'));
    const cr = await eventually('CR', () => cluster.get(LISTENER, NS, 'doomed'));
    // The operator's finalizer, applied under its own field manager.
    await cluster.apply(
      {
        apiVersion: cr.apiVersion,
        kind: cr.kind,
        metadata: { name: 'doomed', namespace: NS, finalizers: [OPERATOR_FINALIZER] },
      },
      { fieldManager: 'iotmq-operator' },
    );
    await setReady('doomed', true);
    await untilState(listenerPath('doomed'), 'Succeeded');

    expect((await rp.call('DELETE', `${listenerPath('doomed')}?${API}`)).status).toBe(202);
    await eventually(
      'deletionTimestamp',
      async () => (await cluster.get(LISTENER, NS, 'doomed'))?.metadata.deletionTimestamp,
    );
    await agent.idle();
    expect(await state(listenerPath('doomed'))).toBe('Deleting');
    expect((await cluster.get(LISTENER, NS, 'doomed'))?.metadata.finalizers?.sort()).toEqual(
      [AGENT_FINALIZER, OPERATOR_FINALIZER].sort(),
    );

    await cluster.removeFinalizer(LISTENER, NS, 'doomed', OPERATOR_FINALIZER);
    await untilState(listenerPath('doomed'), 'NotFound');
    expect(await cluster.get(LISTENER, NS, 'doomed')).toBeUndefined();
  });

  it('never touches CRs it did not create: a same-named ARM resource fails, the CR stays as it was', async () => {
    const foreign = await cluster.apply(
      {
        apiVersion: LISTENER.apiVersion,
        kind: LISTENER.kind,
        metadata: {
          name: 'gitops',
          namespace: NS,
          labels: { 'management.azure.com/provider-name': 'microsoft.iotoperationsmq' },
        },
        spec: { brokerRef: 'broker', port: 2000 },
      },
      { fieldManager: 'kubectl' },
    );
    const put = await rp.call('PUT', `${listenerPath('gitops')}?${API}`, body('BrokerListener'));
    await untilState(listenerPath('gitops'), 'Failed');
    const operation = new URL(put.headers.get('azure-asyncoperation')!);
    expect((await rp.call('GET', operation.pathname + operation.search)).body.error.code).toBe(
      'CustomResourceConflict',
    );
    expect(await cluster.get(LISTENER, NS, 'gitops')).toEqual(foreign);
  });

  it('while the RP is unreachable nothing is deleted; after reconnecting it resumes from its revision and converges', async () => {
    await rp.call('PUT', `${listenerPath('steady')}?${API}`, body('BrokerListener'));
    await setReady('steady', true);
    await untilState(listenerPath('steady'), 'Succeeded');
    const before = await cluster.list(LISTENER, { namespace: NS });

    proxy.cut();
    const cutTime = Date.now();
    const changed = await rp.call('PUT', `${listenerPath('steady')}?${API}`, body('BrokerListener', { port: 7883 }));
    expect(changed.status).toBe(200);
    // Let the agent fail against the dead network for real: several refused reconnects and longer than
    // its longest pause between two, so that a relist or a give-up after a failed retry would have acted.
    const cutAt = proxy.requests.length;
    await eventually(
      'the agent to retry for a full backoff period',
      () => proxy.refused >= 5 && Date.now() - cutTime > 2 * BACKOFF.maxMs,
      10_000,
    );
    expect(proxy.requests.length).toBe(cutAt); // nothing got through
    const during = await cluster.list(LISTENER, { namespace: NS });
    expect(during.items.map((i) => i.metadata.name)).toEqual(before.items.map((i) => i.metadata.name));
    expect(during.items.every((i) => !i.metadata.deletionTimestamp)).toBe(true);
    expect(during.items.find((i) => i.metadata.name === 'steady')?.spec?.port).not.toBe(7883);

    proxy.restore();
    await eventually('port 7883 applied', async () => (await cluster.get(LISTENER, NS, 'steady'))?.spec?.port === 7883);
    const resumed = proxy.requests.slice(cutAt).filter((line) => line.includes('/resources'));
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((line) => /since=\d+/.test(line))).toBe(true); // resumed, not relisted
    await setReady('steady', true);
    await untilState(listenerPath('steady'), 'Succeeded');
  });

  it('on 410 it relists and prunes CRs whose resources vanished, leaving foreign ones alone', async () => {
    await rp.call('PUT', `${listenerPath('vanishing')}?${API}`, body('BrokerListener'));
    await eventually('CR', () => cluster.get(LISTENER, NS, 'vanishing'));
    proxy.cut();
    // The RP loses the resource without a delete event reaching the agent, and compacts its feed.
    await rp.store.resources.delete(listenerPath('vanishing'));
    await rp.call('PUT', `${listenerPath('filler')}?${API}`, body('BrokerListener')); // moves the feed past the delete
    await rp.store.feed.compactBefore(await rp.store.feed.currentRevision());
    const cutAt = proxy.requests.length;
    proxy.restore();
    await eventually('pruned', async () => (await cluster.get(LISTENER, NS, 'vanishing')) === undefined);
    expect(proxy.requests.slice(cutAt).some((line) => /\/resources\?watch=1/.test(line))).toBe(true); // relisted after 410
    expect(await cluster.get(LISTENER, NS, 'gitops')).toBeDefined();
    expect(await cluster.get(LISTENER, NS, 'steady')).toBeDefined();
  });

  it('a restarted agent relists and converges without re-creating anything', async () => {
    await agent.stop();
    const before = await cluster.list(LISTENER, { namespace: NS });
    await rp.call('PUT', `${listenerPath('late')}?${API}`, body('BrokerListener'));
    agent = startAgent();
    await agent.synced;
    await eventually('late CR', () => cluster.get(LISTENER, NS, 'late'));
    await agent.idle();
    for (const item of before.items) {
      const now = await cluster.get(LISTENER, NS, item.metadata.name);
      expect(now?.metadata.uid).toBe(item.metadata.uid);
    }
  });

  it('an ARM name a Kubernetes object cannot have (capitals) fails the operation with the cluster`s reason', async () => {
    const put = await rp.call('PUT', `${listenerPath('Upper')}?${API}`, body('BrokerListener'));
    expect(put.status).toBe(201); // the API allows [a-zA-Z0-9-]
    await untilState(listenerPath('Upper'), 'Failed');
    const operation = new URL(put.headers.get('azure-asyncoperation')!);
    const { body: failed } = await rp.call('GET', operation.pathname + operation.search);
    expect(failed.error.code).toBe('CustomResourceInvalid');
    expect(failed.error.message).toContain('metadata.name: Invalid value: "Upper": a lowercase RFC 1123 subdomain');
    expect(failed.error.message).toContain('Recreate the resource under a name of lower-case letters');
  });

  it('a resource the cluster refuses (its CRD narrower than the RP) fails with the API server`s causes, and goes through once fixed', async () => {
    // CRDs one release behind the RP, say: the cluster's BrokerListener allows ports up to 2000 only.
    const narrow = loadChartCrds().map((crd) =>
      (crd.spec?.names as { kind: string }).kind === 'BrokerListener' ? withPortMaximum(crd, 2000) : crd,
    );
    await agent.stop();
    const strict = createLocalCluster({ customResourceDefinitions: narrow });
    const strictAgent = startAgent(strict);
    try {
      await strictAgent.synced;
      const put = await rp.call('PUT', `${listenerPath('wide')}?${API}`, body('BrokerListener', { port: 3000 }));
      expect(put.status).toBe(201);
      await untilState(listenerPath('wide'), 'Failed');
      const operation = new URL(put.headers.get('azure-asyncoperation')!);
      const { body: failed } = await rp.call('GET', operation.pathname + operation.search);
      expect(failed.error.code).toBe('CustomResourceInvalid');
      expect(failed.error.message).toContain(
        'spec.port: Invalid value: 3000: spec.port in body should be less than or equal to 2000',
      );
      expect(failed.error.message).toContain('update the extension or the resource');
      expect(await strict.get(LISTENER, NS, 'wide')).toBeUndefined();

      await rp.call('PUT', `${listenerPath('wide')}?${API}`, body('BrokerListener', { port: 1999 }));
      await eventually('the fixed CR', async () => (await strict.get(LISTENER, NS, 'wide'))?.spec?.port === 1999);
    } finally {
      await strictAgent.stop();
      strict.close();
      agent = startAgent();
      await agent.synced;
    }
  });
});

/** A copy of the BrokerListener CRD whose spec.port allows at most `maximum`. */
function withPortMaximum(crd: KubeObject, maximum: number): KubeObject {
  const narrowed = structuredClone(crd);
  for (const version of (narrowed.spec as { versions: { schema: { openAPIV3Schema: any } }[] }).versions)
    version.schema.openAPIV3Schema.properties.spec.properties.port.maximum = maximum;
  return narrowed;
}
