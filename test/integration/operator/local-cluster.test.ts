// The embedded local cluster: the shared ClusterClient suite, plus what only it can show here —
// 410 Gone once a version leaves the history, persistence across restarts, owner-reference GC.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalCluster, isClusterError, type LocalCluster } from '../../../extension/cluster/index.js';
import { describeClusterClient, LISTENER } from './cluster-client-suite.js';

let cluster: LocalCluster;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-cluster-'));
  cluster = createLocalCluster({ dataDir: dir, historySize: 5 });
});
afterEach(async () => {
  cluster.close();
  await rm(dir, { recursive: true, force: true });
});

describeClusterClient('local', { client: () => cluster, namespace: () => 'azure-iot-operations' });

describe('local cluster', () => {
  const spec = (port: number) => ({ brokerRef: 'broker', port });
  const obj = (name: string, port: number) => ({
    apiVersion: LISTENER.apiVersion,
    kind: LISTENER.kind,
    metadata: { name, namespace: 'ns' },
    spec: spec(port),
  });

  it('answers 410 Gone for a version older than its history', async () => {
    const { resourceVersion } = await cluster.list(LISTENER);
    for (let port = 1; port <= 7; port++) await cluster.apply(obj('many', port), { fieldManager: 'a' });
    const events = cluster.watch(LISTENER, { resourceVersion, signal: new AbortController().signal });
    const error = await (async () => {
      for await (const _ of events) return undefined;
    })().catch((e: unknown) => e);
    expect(isClusterError(error, 'Gone')).toBe(true);
    expect((error as { status: number }).status).toBe(410);
  });

  it('keeps objects, versions and ownership across a restart; old watches relist', async () => {
    const created = await cluster.apply(obj('kept', 1), { fieldManager: 'agent' });
    cluster.close();
    cluster = createLocalCluster({ dataDir: dir, historySize: 5 });
    const again = await cluster.get(LISTENER, 'ns', 'kept');
    expect(again).toEqual(created);
    expect(Number(cluster.resourceVersion)).toBe(Number(created.metadata.resourceVersion));
    const conflict = await cluster.apply(obj('kept', 2), { fieldManager: 'other' }).catch((e: unknown) => e);
    expect(isClusterError(conflict, 'Conflict')).toBe(true);
    const events = cluster.watch(LISTENER, {
      resourceVersion: String(Number(cluster.resourceVersion) - 1),
      signal: new AbortController().signal,
    });
    await expect(
      (async () => {
        for await (const _ of events) return;
      })(),
    ).rejects.toThrow(/too old/);
  });

  it('deletes dependents of a deleted owner (background garbage collection)', async () => {
    const owner = await cluster.apply(obj('owner', 1), { fieldManager: 'a' });
    await cluster.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'dep',
          namespace: 'ns',
          ownerReferences: [
            { apiVersion: owner.apiVersion, kind: owner.kind, name: 'owner', uid: owner.metadata.uid! },
          ],
        },
        data: { a: 'b' },
      },
      { fieldManager: 'op' },
    );
    await cluster.delete(LISTENER, 'ns', 'owner');
    expect(await cluster.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'ns', 'dep')).toBeUndefined();
  });
});
