// The SQLite files that hold resources and the local cluster's Secrets are the owner's only (0600),
// whatever the umask of the process that opens them (here the test process's own, normally 022):
// the database, SQLite's -wal and -shm files and the store's lock file; and a database a version
// before this one left readable by all is made private when opened.
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalCluster } from '../../extension/cluster/index.js';
import { createSqliteStore } from '../../extension/broker/session/sqlite-store.js';
import { openArmStore } from '../../src/arm/store.js';
import { createStore } from '../../src/store/index.js';

let dir: string;
let umask: number;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-file-modes-'));
  umask = process.umask(0o022); // as a shell usually sets it: files 0644 unless made otherwise
});
afterAll(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

const modes = async (where: string) =>
  Object.fromEntries(
    await Promise.all(
      (await readdir(where)).map(async (name) => [
        name,
        ((await stat(path.join(where, name))).mode & 0o777).toString(8),
      ]),
    ),
  );

describe('SQLite files are 0600', () => {
  it('the RP store: database, -wal, -shm and lock', async () => {
    const store = await createStore(`sqlite:${path.join(dir, 'rp', 'rp.db')}`);
    try {
      await store.subscriptions.put({
        id: '00000000-0000-0000-0000-000000000001',
        state: 'Registered',
        tenantId: 't1',
        properties: {},
        registrationDate: '2024-01-01T00:00:00.000Z',
      });
      expect(await modes(path.join(dir, 'rp'))).toEqual({
        'rp.db': '600',
        'rp.db-wal': '600',
        'rp.db-shm': '600',
        'rp.db.lock': '600',
      });
    } finally {
      await store.close();
    }
  });

  it('the local cluster (it keeps Secrets), also when an earlier version left it 0644', async () => {
    const clusterDir = path.join(dir, 'cluster');
    const write = async () => {
      const cluster = createLocalCluster({ dataDir: clusterDir });
      await cluster.apply(
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'n' }, stringData: { k: 'v' } },
        { fieldManager: 'test' },
      );
      return cluster;
    };
    const first = await write();
    const written = await modes(clusterDir);
    first.close();
    for (const name of await readdir(clusterDir)) await chmod(path.join(clusterDir, name), 0o644);
    const again = await write();
    try {
      expect(written).toMatchObject({ 'cluster.db': '600', 'cluster.db-wal': '600', 'cluster.db-shm': '600' });
      expect(Object.values(await modes(clusterDir)).every((mode) => mode === '600')).toBe(true);
    } finally {
      again.close();
    }
  });

  it('the ARM stand-in (secret hashes) and the broker (sessions, retained messages)', async () => {
    const armStore = openArmStore(path.join(dir, 'arm', 'arm.db'));
    armStore.tenants.put({ id: 't1', displayName: 't1' });
    const brokerStore = createSqliteStore(path.join(dir, 'broker', 'broker.db'));
    try {
      const arm = await modes(path.join(dir, 'arm'));
      const broker = await modes(path.join(dir, 'broker'));
      expect(Object.keys(arm)).toEqual(expect.arrayContaining(['arm.db', 'arm.db-wal']));
      expect(Object.keys(broker)).toContain('broker.db');
      expect([...new Set([...Object.values(arm), ...Object.values(broker)])]).toEqual(['600']);
    } finally {
      armStore.close();
      brokerStore.close();
    }
  });
});
