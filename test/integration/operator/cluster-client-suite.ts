// One suite for the ClusterClient interface, run against every implementation: the embedded local
// cluster and a real kube-apiserver. What passes here is what the agent and operator rely on.
import { describe, expect, it } from 'vitest';
import {
  isClusterError,
  type ClusterClient,
  type KubeObject,
  type WatchEvent,
} from '../../../extension/cluster/index.js';

export const LISTENER = {
  apiVersion: 'mq.iotoperations.azure.com/v1beta1',
  kind: 'BrokerListener',
  plural: 'brokerlisteners',
} as const;

/**
 * What the BrokerListener CRD's schema defaults (extension/chart/crds): the API server fills these in
 * on every write, owned by no field manager, and the local cluster does the same.
 */
export const LISTENER_DEFAULTS = {
  authenticationEnabled: false,
  authorizationEnabled: false,
  serviceName: 'aio-mq-dmqtt-frontend',
  serviceType: 'clusterIp',
} as const;

export interface SuiteContext {
  client(): ClusterClient;
  namespace(): string;
}

function listener(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
  metadata: Partial<KubeObject['metadata']> = {},
): KubeObject {
  return { apiVersion: LISTENER.apiVersion, kind: LISTENER.kind, metadata: { name, namespace, ...metadata }, spec };
}

async function collect(events: AsyncIterable<WatchEvent>, count: number): Promise<WatchEvent[]> {
  const seen: WatchEvent[] = [];
  for await (const event of events) {
    if (event.type === 'BOOKMARK') continue;
    seen.push(event);
    if (seen.length === count) break;
  }
  return seen;
}

export function describeClusterClient(name: string, context: SuiteContext): void {
  describe(`ClusterClient: ${name}`, () => {
    const c = () => context.client();
    const ns = () => context.namespace();

    it('apply creates with uid, generation 1 and a resourceVersion; identical re-apply is a no-op; spec changes bump generation, labels do not', async () => {
      const created = await c().apply(listener(ns(), 'gen', { brokerRef: 'broker', port: 1883 }), {
        fieldManager: 'a',
      });
      expect(created.metadata.uid).toMatch(/[0-9a-f-]{36}/);
      expect(created.metadata.generation).toBe(1);
      const again = await c().apply(listener(ns(), 'gen', { brokerRef: 'broker', port: 1883 }), { fieldManager: 'a' });
      expect(again.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
      const labelled = await c().apply(
        listener(ns(), 'gen', { brokerRef: 'broker', port: 1883 }, { labels: { tier: 'x' } }),
        { fieldManager: 'a' },
      );
      expect(labelled.metadata.generation).toBe(1);
      expect(labelled.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
      const changed = await c().apply(
        listener(ns(), 'gen', { brokerRef: 'broker', port: 1884 }, { labels: { tier: 'x' } }),
        { fieldManager: 'a' },
      );
      expect(changed.metadata.generation).toBe(2);
      expect((await c().get(LISTENER, ns(), 'gen'))?.spec).toEqual({
        ...LISTENER_DEFAULTS,
        brokerRef: 'broker',
        port: 1884,
      });
    });

    it('a field owned by another manager conflicts unless forced; fields a manager stops applying are removed', async () => {
      await c().apply(listener(ns(), 'own', { brokerRef: 'broker', port: 1883, serviceType: 'clusterIp' }), {
        fieldManager: 'agent',
      });
      const conflict = await c()
        .apply(listener(ns(), 'own', { port: 2883 }), { fieldManager: 'kubectl' })
        .catch((e: unknown) => e);
      expect(isClusterError(conflict, 'Conflict')).toBe(true);
      // Same value: shared ownership, no conflict.
      await c().apply(listener(ns(), 'own', { brokerRef: 'broker' }), { fieldManager: 'kubectl' });
      const forced = await c().apply(listener(ns(), 'own', { brokerRef: 'broker', port: 2883 }), {
        fieldManager: 'kubectl',
        force: true,
      });
      expect(forced.spec?.port).toBe(2883);
      // agent drops serviceType and port (port is no longer its own): serviceType goes (back to the
      // schema's default), port stays.
      await c().apply(listener(ns(), 'own', { brokerRef: 'broker', port: 2883, serviceType: 'loadBalancer' }), {
        fieldManager: 'agent',
        force: true,
      });
      const dropped = await c().apply(listener(ns(), 'own', { brokerRef: 'broker' }), { fieldManager: 'agent' });
      expect(dropped.spec).toEqual({ ...LISTENER_DEFAULTS, brokerRef: 'broker', port: 2883 });
      const managers = (dropped.metadata.managedFields ?? []).map((entry) => entry.manager).sort();
      expect(managers).toEqual(['agent', 'kubectl']);
    });

    it('status goes through the status subresource only and leaves generation alone', async () => {
      const created = await c().apply(
        { ...listener(ns(), 'st', { brokerRef: 'broker', port: 1 }), status: { ignored: true } },
        { fieldManager: 'a' },
      );
      expect(created.status?.ignored).toBeUndefined();
      const condition = {
        type: 'Ready',
        status: 'True',
        reason: 'Running',
        message: 'ok',
        observedGeneration: 1,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      };
      const updated = await c().patchStatus(
        LISTENER,
        ns(),
        'st',
        { conditions: [condition] },
        { fieldManager: 'operator' },
      );
      expect(updated.status?.conditions).toEqual([condition]);
      expect(updated.metadata.generation).toBe(1);
      expect(updated.spec).toEqual({ ...LISTENER_DEFAULTS, brokerRef: 'broker', port: 1 });
    });

    it('an apply with a field the CRD schema does not declare is refused; get of a missing object is undefined', async () => {
      const refused = await c()
        .apply(listener(ns(), 'strict', { brokerRef: 'broker', port: 5, bogus: 'x' }), { fieldManager: 'a' })
        .catch((e: unknown) => e);
      expect(isClusterError(refused, 'Invalid'), String(refused)).toBe(true);
      expect(String(refused)).toMatch(/bogus/);
      await c().apply(listener(ns(), 'strict', { brokerRef: 'broker', port: 5 }), { fieldManager: 'a' });
      const status = await c()
        .patchStatus(LISTENER, ns(), 'strict', { observedGeneration: 1, bogus: true }, { fieldManager: 'operator' })
        .catch((e: unknown) => e);
      expect(isClusterError(status, 'Invalid'), String(status)).toBe(true);
      expect(await c().get(LISTENER, ns(), 'missing')).toBeUndefined();
    });

    it('an object being deleted accepts no new finalizer', async () => {
      await c().apply(
        listener(ns(), 'nofin', { brokerRef: 'broker', port: 1 }, { finalizers: ['iotmq.azure.com/agent'] }),
        { fieldManager: 'a' },
      );
      await c().delete(LISTENER, ns(), 'nofin');
      const refused = await c()
        .apply(
          listener(ns(), 'nofin', { brokerRef: 'broker', port: 1 }, { finalizers: ['iotmq.azure.com/operator'] }),
          { fieldManager: 'op' },
        )
        .catch((e: unknown) => e);
      expect(isClusterError(refused, 'Invalid')).toBe(true);
      await c().removeFinalizer(LISTENER, ns(), 'nofin', 'iotmq.azure.com/agent');
      expect(await c().get(LISTENER, ns(), 'nofin')).toBeUndefined();
    });

    it('a watch from a version the server no longer keeps fails with Gone (410): the caller relists', async () => {
      // More changes than the local cluster's test history keeps; a real API server keeps no version 1.
      for (let port = 1; port <= 8; port++)
        await c().apply(listener(ns(), 'old', { brokerRef: 'broker', port }), { fieldManager: 'a' });
      const events = c().watch(LISTENER, {
        namespace: ns(),
        resourceVersion: '1',
        signal: new AbortController().signal,
      });
      const error = await (async () => {
        for await (const _ of events) return undefined;
      })().catch((e: unknown) => e);
      expect(isClusterError(error, 'Gone')).toBe(true);
      expect((error as { status: number }).status).toBe(410);
    });

    it('delete waits for finalizers; removing the last one deletes', async () => {
      await c().apply(
        listener(
          ns(),
          'fin',
          { brokerRef: 'broker', port: 1 },
          { finalizers: ['iotmq.azure.com/agent', 'iotmq.azure.com/operator'] },
        ),
        { fieldManager: 'a' },
      );
      await c().delete(LISTENER, ns(), 'fin');
      const deleting = await c().get(LISTENER, ns(), 'fin');
      expect(deleting?.metadata.deletionTimestamp).toBeTruthy();
      await c().removeFinalizer(LISTENER, ns(), 'fin', 'iotmq.azure.com/operator');
      expect((await c().get(LISTENER, ns(), 'fin'))?.metadata.finalizers).toEqual(['iotmq.azure.com/agent']);
      await c().removeFinalizer(LISTENER, ns(), 'fin', 'iotmq.azure.com/agent');
      expect(await c().get(LISTENER, ns(), 'fin')).toBeUndefined();
      await c().delete(LISTENER, ns(), 'fin'); // already gone: fine
    });

    it('list + watch from the list version sees ADDED, MODIFIED, DELETED in order, filtered by label', async () => {
      const start = await c().list(LISTENER, { namespace: ns(), labelSelector: 'watched=yes' });
      const abort = new AbortController();
      const events = c().watch(LISTENER, {
        namespace: ns(),
        labelSelector: 'watched=yes',
        resourceVersion: start.resourceVersion,
        signal: abort.signal,
      });
      const seen = collect(events, 3);
      await c().apply(listener(ns(), 'w', { brokerRef: 'broker', port: 1 }, { labels: { watched: 'yes' } }), {
        fieldManager: 'a',
      });
      await c().apply(listener(ns(), 'other', { brokerRef: 'broker', port: 2 }), { fieldManager: 'a' });
      await c().apply(listener(ns(), 'w', { brokerRef: 'broker', port: 3 }, { labels: { watched: 'yes' } }), {
        fieldManager: 'a',
      });
      await c().delete(LISTENER, ns(), 'w');
      const got = await seen;
      abort.abort();
      expect(got.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
      expect(got.map((e) => (e.type === 'BOOKMARK' ? 0 : e.object.spec?.port))).toEqual([1, 3, 3]);
    });
  });
}
