import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDatabase, ensurePrivateFile } from '../common/private-files.js';
import { createReadCaches, type ReadCaches } from './read-cache.js';
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
 *   power loss. The RP has answered 200/201 by then, and an acknowledged ARM write must not vanish.
 *   Concurrent writers share a commit (group commit, below), so the fsync is paid once per batch.
 * - Writers in this process are serialised by a per-file mutex before BEGIN IMMEDIATE: better-sqlite3
 *   waits for a busy lock synchronously, so two connections of one process must never contend.
 * - One process owns the file (the `<file>.lock` below): change notifications and the read cache are
 *   in-process, shared by every Store opened on the file here; several RP replicas need PostgreSQL.
 */
const MIGRATIONS: Migrations = [
  ...buildMigrations('TEXT', 'INTEGER'),
  ["INSERT INTO meta (name, value) VALUES ('revision', 0)"],
];

/** Most transactions one COMMIT carries. */
const MAX_BATCH = 256;
/** Most turns of the event loop a batch waits for more writes to join it. */
const MAX_GATHER_TURNS = 4;

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

interface FileState {
  refs: number;
  tail: Promise<unknown>;
  events: EventEmitter;
  /** Every write to the file comes from this process, so one set of caches serves all its Stores. */
  caches: ReadCaches;
  owner: Database.Database;
}
const files = new Map<string, FileState>();

/**
 * Makes this process the file's only writer for as long as it has it open: an exclusive lock on a
 * companion file, which SQLite itself takes and the OS drops when the process ends, however it ends.
 * The read cache relies on it: a write from another process would go unseen.
 */
function takeOwnership(file: string): Database.Database {
  ensurePrivateFile(`${file}.lock`);
  const owner = new Database(`${file}.lock`, { timeout: 1000 });
  try {
    owner.pragma('journal_mode = MEMORY'); // it never writes: no journal file beside it
    owner.pragma('locking_mode = EXCLUSIVE');
    owner.exec('BEGIN EXCLUSIVE; COMMIT'); // in EXCLUSIVE locking mode the lock outlives the transaction
    return owner;
  } catch (error) {
    owner.close();
    throw new Error(
      `The SQLite store '${file}' is open in another process; one process owns a SQLite store (several RP replicas need PostgreSQL)`,
      { cause: error },
    );
  }
}

export async function openSqliteStore(path: string): Promise<Store> {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  ensurePrivateDatabase(file); // ARM resources, secrets' hashes: the owner's only
  let state = files.get(file);
  if (!state) {
    state = {
      refs: 0,
      tail: Promise.resolve(),
      events: new EventEmitter().setMaxListeners(0),
      caches: createReadCaches(),
      owner: takeOwnership(file),
    };
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

  // Group commit: transactions that arrive while one is running are queued and run together in
  // one SQLite transaction, each inside its own SAVEPOINT (a failing one rolls back alone), and
  // share one COMMIT — one fsync for the batch instead of one per write. Each caller's promise
  // settles only after that COMMIT, so nothing is acknowledged before it is durable.
  interface Pending {
    fn: (conn: SqlConn) => Promise<unknown>;
    ended?: () => void;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }
  const queue: Pending[] = [];
  let flushing = false;

  function writeTransaction<T>(fn: (conn: SqlConn) => Promise<T>, ended?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ fn, ended, resolve: resolve as (value: unknown) => void, reject });
      if (!flushing) void flush();
    });
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      while (queue.length > 0) {
        // Turns of the event loop first: requests already waiting on sockets get to enqueue their
        // writes, so they join this commit instead of each paying for its own fsync. The commit
        // goes once a turn brings no new write (a lone writer waits one turn, as before).
        let size = queue.length;
        await nextTurn();
        for (let turn = 1; turn < MAX_GATHER_TURNS && queue.length > size && queue.length < MAX_BATCH; turn++) {
          size = queue.length;
          await nextTurn();
        }
        const batch = queue.splice(0, MAX_BATCH);
        await serialised(() => runBatch(batch));
      }
    } finally {
      flushing = false;
    }
  }

  // Prepared once: exec() would parse these statements again for every transaction of a batch.
  const control = {
    begin: writer.prepare('BEGIN IMMEDIATE'),
    savepoint: writer.prepare('SAVEPOINT tx'),
    release: writer.prepare('RELEASE tx'),
    rollbackTo: writer.prepare('ROLLBACK TO tx'),
    commit: writer.prepare('COMMIT'),
  };

  async function runBatch(batch: Pending[]): Promise<void> {
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      control.begin.run();
      for (const item of batch) {
        control.savepoint.run();
        try {
          const value = await item.fn(writeConn);
          control.release.run();
          outcomes.push({ ok: true, value });
        } catch (error) {
          // SQLite aborted the whole transaction (e.g. disk full): nothing of the batch is kept.
          if (!writer.inTransaction) throw error;
          control.rollbackTo.run();
          control.release.run();
          outcomes.push({ ok: false, value: error });
        }
      }
      control.commit.run();
    } catch (error) {
      if (writer.inTransaction) writer.exec('ROLLBACK');
      for (const item of batch) item.ended?.();
      for (const item of batch) item.reject(error);
      return;
    }
    for (const item of batch) item.ended?.();
    batch.forEach((item, i) => (outcomes[i]!.ok ? item.resolve(outcomes[i]!.value) : item.reject(outcomes[i]!.value)));
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
      // Not UPDATE … RETURNING: measured here at ~15 µs against ~2 µs for the UPDATE and a SELECT.
      await conn.query("UPDATE meta SET value = value + 1 WHERE name = 'revision'");
      return backend.currentRevision(conn);
    },
    currentRevision: async (conn) => {
      const [row] = await conn.query<{ value: number }>("SELECT value FROM meta WHERE name = 'revision'");
      return row!.value;
    },
    beforeCommit: async () => undefined,
    afterCommit: (revision) => shared.events.emit('change', revision),
    readCaches: shared.caches,
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
      if (--shared.refs === 0) {
        files.delete(file);
        shared.owner.close();
      }
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
