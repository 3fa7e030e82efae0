// Where the local cluster keeps its objects between `iotmq dev` runs: one SQLite file in the data
// dir (or memory), one row per object plus the resourceVersion counter. Watch history is not kept:
// after a restart every watcher is older than the history and relists, as after an etcd compaction.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ensurePrivateDatabase } from '../../src/common/private-files.js';
import type { KubeObject } from './types.js';

export interface LocalPersistence {
  load(): { objects: { key: string; object: KubeObject }[]; resourceVersion: number };
  save(key: string, object: KubeObject | undefined, resourceVersion: number): void;
  close(): void;
}

export function createLocalPersistence(dataDir: string | undefined): LocalPersistence {
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = dataDir ? path.join(dataDir, 'cluster.db') : ':memory:';
  if (dataDir) ensurePrivateDatabase(file); // it holds the cluster's Secrets
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const upsert = db.prepare(
    'INSERT INTO objects (key, body) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body',
  );
  const remove = db.prepare('DELETE FROM objects WHERE key = ?');
  const setVersion = db.prepare(
    `INSERT INTO meta (key, value) VALUES ('resourceVersion', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
  );
  const save = db.transaction((key: string, object: KubeObject | undefined, resourceVersion: number) => {
    if (object) upsert.run(key, JSON.stringify(object));
    else remove.run(key);
    setVersion.run(String(resourceVersion));
  });
  return {
    load() {
      const rows = db.prepare('SELECT key, body FROM objects').all() as { key: string; body: string }[];
      const version = db.prepare(`SELECT value FROM meta WHERE key = 'resourceVersion'`).get() as
        { value: string } | undefined;
      return {
        objects: rows.map((row) => ({ key: row.key, object: JSON.parse(row.body) as KubeObject })),
        resourceVersion: Number(version?.value ?? 0),
      };
    },
    save: (key, object, resourceVersion) => save(key, object, resourceVersion),
    close: () => db.close(),
  };
}
