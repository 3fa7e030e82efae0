import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { buildMigrations } from './schema.js';
import { applyMigrations, type Migrations, type SqlBackend, type SqlConn, type SqlRow } from './sql-backend.js';
import { buildSqlStore } from './sql-store.js';
import type { Store } from './types.js';

/**
 * SQLite backend (better-sqlite3): the embedded default for one RP process.
 *
 * - WAL, with two connections: a writer, and a reader that sees committed data only while a write
 *   transaction is open on the writer (transaction bodies are async, so reads may interleave).
 * - synchronous=FULL: in WAL mode NORMAL survives a process crash but may lose the last commits on
 *   power loss. The RP has answered 200/201 by then, and an acknowledged ARM write must not vanish;
 *   RP write rates are low, so one fsync per commit is cheap.
 * - Writers in this process are serialised by a per-file mutex before BEGIN IMMEDIATE: better-sqlite3
 *   waits for a busy lock synchronously, so two connections of one process must never contend.
 * - Change notifications are in-process (shared by every Store opened on the same file here); several
 *   RP replicas need PostgreSQL.
 */
const MIGRATIONS: Migrations = [
  ...buildMigrations('TEXT', 'INTEGER'),
  ["INSERT INTO meta (name, value) VALUES ('revision', 0)"],
];

interface FileState {
  refs: number;
  tail: Promise<unknown>;
  events: EventEmitter;
}
const files = new Map<string, FileState>();

export async function openSqliteStore(path: string): Promise<Store> {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  let state = files.get(file);
  if (!state) {
    state = { refs: 0, tail: Promise.resolve(), events: new EventEmitter().setMaxListeners(0) };
    files.set(file, state);
  }
  state.refs++;
  const shared = state;

  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  writer.pragma('synchronous = FULL');
  writer.pragma('busy_timeout = 5000');
  const writeConn = connection(writer);

  /** Runs fn after every earlier writer of this file in this process has finished. */
  function serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = shared.tail.then(fn);
    shared.tail = run.catch(() => undefined);
    return run;
  }

  async function writeTransaction<T>(fn: (conn: SqlConn) => Promise<T>): Promise<T> {
    return serialised(async () => {
      writer.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn(writeConn);
        writer.exec('COMMIT');
        return value;
      } catch (error) {
        if (writer.inTransaction) writer.exec('ROLLBACK');
        throw error;
      }
    });
  }

  await writeTransaction((conn) => applyMigrations(conn, MIGRATIONS));

  const reader = new Database(file);
  reader.pragma('busy_timeout = 5000');
  reader.pragma('query_only = ON');
  const readConn = connection(reader);

  let closed = false;
  const backend: SqlBackend = {
    name: 'sqlite',
    read: readConn,
    writeTransaction,
    nextRevision: async (conn) => {
      const [row] = await conn.query<{ value: number }>(
        "UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value",
      );
      return row!.value;
    },
    currentRevision: async (conn) => {
      const [row] = await conn.query<{ value: number }>("SELECT value FROM meta WHERE name = 'revision'");
      return row!.value;
    },
    beforeCommit: async () => undefined,
    afterCommit: (revision) => shared.events.emit('change', revision),
    subscribe(listener) {
      // A throwing listener must not fail the writer that committed.
      const safe = (revision: number): void => {
        try {
          listener(revision);
        } catch {
          /* the listener's own problem */
        }
      };
      shared.events.on('change', safe);
      return () => shared.events.off('change', safe);
    },
    async close() {
      if (closed) return;
      closed = true;
      await serialised(async () => undefined);
      writer.close();
      reader.close();
      if (--shared.refs === 0) files.delete(file);
    },
  };
  return buildSqlStore(backend);
}

function connection(db: Database.Database): SqlConn {
  const statements = new Map<string, Database.Statement>();
  return {
    async query<R extends SqlRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      let statement = statements.get(sql);
      if (!statement) {
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      const values = params.map((p) => (p === undefined ? null : p));
      if (statement.reader) return statement.all(...values) as R[];
      statement.run(...values);
      return [];
    },
  };
}
