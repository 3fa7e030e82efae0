// One suite for the ClusterClient interface, run against every implementation: the embedded local
// cluster and a real kube-apiserver. What passes here is what the agent and operator rely on.
import { describe, expect, it } from 'vitest';
import { isClusterError, type ClusterClient, type KubeObject, type WatchEvent } from '../../../extension/cluster/index.js';

export const LISTENER = { apiVersion: 'mq.iotoperations.azure.com/v1beta1', kind: 'BrokerListener', plural: 'brokerlisteners' } as const;

export interface SuiteContext {
  client(): ClusterClient;
  namespace(): string;
}

function listener(namespace: string, name: string, spec: Record<string, unknown>, metadata: Partial<KubeObject['metadata']> = {}): KubeObject {
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
      const created = await c().apply(listener(ns(), 'gen', { brokerRef: 'broker', port: 1883 }), { fieldManager: 'a' });
      expect(created.metadata.uid).toMatch(/[0-9a-f-]{36}/);
      expect(created.metadata.generation).toBe(1);
      const again = await c().apply(listener(ns(), 'gen', { brokerRef: 'broker', port: 1883 }), { fieldManager: 'a' });
      expect(again.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
      const labelled = await c().apply(listener(ns(), 'gen', { brokerRef: 'broker', port: 1883 }, { labels: { tier: 'x' } }), { fieldManager: 'a' });
      expect(labelled.metadata.generation).toBe(1);
      expect(labelled.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
      const changed = await c().apply(listener(ns(), 'gen', { brokerRef: 'broker', port: 1884 }, { labels: { tier: 'x' } }), { fieldManager: 'a' });
      expect(changed.metadata.generation).toBe(2);
      expect((await c().get(LISTENER, ns(), 'gen'))?.spec).toEqual({ brokerRef: 'broker', port: 1884 });
    });

    it('a field owned by another manager conflicts unless forced; fields a manager stops applying are removed', async () => {
      await c().apply(listener(ns(), 'own', { brokerRef: 'broker', port: 1883, serviceType: 'clusterIp' }), { fieldManager: 'agent' });
      const conflict = await c().apply(listener(ns(), 'own', { port: 2883 }), { fieldManager: 'kubectl' }).catch((e: unknown) => e);
      expect(isClusterError(conflict, 'Conflict')).toBe(true);
      // Same value: shared ownership, no conflict.
      await c().apply(listener(ns(), 'own', { brokerRef: 'broker' }), { fieldManager: 'kubectl' });
      const forced = await c().apply(listener(ns(), 'own', { brokerRef: 'broker', port: 2883 }), { fieldManager: 'kubectl', force: true });
      expect(forced.spec?.port).toBe(2883);
      // agent drops serviceType and port (port is no longer its own): serviceType goes, port stays.
      const dropped = await c().apply(listener(ns(), 'own', { brokerRef: 'broker' }), { fieldManager: 'agent' });
      expect(dropped.spec).toEqual({ brokerRef: 'broker', port: 2883 });
      const managers = (dropped.metadata.managedFields ?? []).map((entry) => entry.manager).sort();
      expect(managers).toEqual(['agent', 'kubectl']);
    });

    it('status goes through the status subresource only and leaves generation alone', async () => {
      const created = await c().apply({ ...listener(ns(), 'st', { brokerRef: 'broker', port: 1 }), status: { ignored: true } }, { fieldManager: 'a' });
      expect(created.status?.ignored).toBeUndefined();
      const condition = { type: 'Ready', status: 'True', reason: 'Running', message: 'ok', observedGeneration: 1, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
      const updated = await c().patchStatus(LISTENER, ns(), 'st', { conditions: [condition] }, { fieldManager: 'operator' });
      expect(updated.status?.conditions).toEqual([condition]);
      expect(updated.metadata.generation).toBe(1);
      expect(updated.spec).toEqual({ brokerRef: 'broker', port: 1 });
    });

    it('delete waits for finalizers; removing the last one deletes', async () => {
      await c().apply(listener(ns(), 'fin', { brokerRef: 'broker', port: 1 }, { finalizers: ['iotmq.azure.com/agent', 'iotmq.azure.com/operator'] }), { fieldManager: 'a' });
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
      const events = c().watch(LISTENER, { namespace: ns(), labelSelector: 'watched=yes', resourceVersion: start.resourceVersion, signal: abort.signal });
      const seen = collect(events, 3);
      await c().apply(listener(ns(), 'w', { brokerRef: 'broker', port: 1 }, { labels: { watched: 'yes' } }), { fieldManager: 'a' });
      await c().apply(listener(ns(), 'other', { brokerRef: 'broker', port: 2 }), { fieldManager: 'a' });
      await c().apply(listener(ns(), 'w', { brokerRef: 'broker', port: 3 }, { labels: { watched: 'yes' } }), { fieldManager: 'a' });
      await c().delete(LISTENER, ns(), 'w');
      const got = await seen;
      abort.abort();
      expect(got.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
      expect(got.map((e) => (e.type === 'BOOKMARK' ? 0 : e.object.spec?.port))).toEqual([1, 3, 3]);
    });
  });
}
