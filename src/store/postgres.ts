import pg from 'pg';
import { componentLogger } from '../common/log.js';
import { buildMigrations } from './schema.js';
import { applyMigrations, type Migrations, type SqlBackend, type SqlConn, type SqlRow } from './sql-backend.js';
import { buildSqlStore } from './sql-store.js';
import type { Store } from './types.js';

/**
 * PostgreSQL backend (pg Pool) for several RP replicas sharing one database, all tables in one schema.
 *
 * Concurrency: READ COMMITTED plus one transaction-scoped advisory lock taken first by every write
 * transaction. Why not SERIALIZABLE or row locks alone: revisions come from a sequence, and sequence
 * values are drawn in one order but may commit in another — a watcher that read revision 11 before
 * revision 10 committed would skip 10 for ever. Holding the lock from before `nextval` until commit
 * makes revisions commit in order (the lock is released after the commit is visible). The same lock
 * makes the ETag check-then-write safe with no retry loop. Writes are short, so serialising them
 * costs little at RP rates; reads never take it.
 *
 * Notifications: each write transaction queues `pg_notify` with its last revision; it is delivered
 * on commit to every replica's LISTEN connection, this one included.
 */
const SCHEMA = 'iotmq';
const CHANNEL = 'iotmq_changes';
/** Arbitrary constant: the advisory lock that serialises writers of one database. */
const WRITE_LOCK = 7_262_393_001;
const RECONNECT_MS = 1_000;

const MIGRATIONS: Migrations = [...buildMigrations('TEXT COLLATE "C"', 'BIGINT'), ['CREATE SEQUENCE revision_seq']];

const log = componentLogger('store', { backend: 'postgres' });

export async function openPostgresStore(url: string): Promise<Store> {
  const config: pg.PoolConfig = { connectionString: url, options: `-c search_path=${SCHEMA}` };
  const pool = new pg.Pool({ ...config, max: 10 });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', (error) => log.warn({ err: error }, 'idle PostgreSQL client failed'));

  async function writeTransaction<T>(fn: (conn: SqlConn) => Promise<T>, ended?: () => void): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK]);
      const value = await fn(connection(client));
      await client.query('COMMIT');
      client.release();
      ended?.();
      return value;
    } catch (error) {
      // A client whose ROLLBACK fails is in an unknown state: destroy it rather than reuse it.
      await client.query('ROLLBACK').then(
        () => client.release(),
        (rollbackError: Error) => client.release(rollbackError),
      );
      ended?.();
      throw error;
    }
  }

  try {
    await writeTransaction(async (conn) => {
      await conn.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
      await applyMigrations(conn, MIGRATIONS);
    });
  } catch (error) {
    await pool.end();
    throw error;
  }

  const read = connection(pool);
  const currentRevision = async (conn: SqlConn): Promise<number> => {
    const [row] = await conn.query<{ v: string }>(
      "SELECT greatest((SELECT max(revision) FROM changes), (SELECT value FROM meta WHERE name = 'compacted_through')) AS v",
    );
    return Number(row!.v);
  };
  const notifier = await listen(config, () => currentRevision(read));

  const backend: SqlBackend = {
    name: 'postgres',
    read,
    writeTransaction,
    nextRevision: async (conn) => {
      const [row] = await conn.query<{ v: string }>("SELECT nextval('revision_seq') AS v");
      return Number(row!.v);
    },
    currentRevision,
    beforeCommit: async (conn, revision) => {
      await conn.query('SELECT pg_notify(?, ?)', [CHANNEL, String(revision)]);
    },
    afterCommit: () => undefined,
    subscribe: notifier.subscribe,
    async close() {
      await notifier.close();
      await pool.end();
    },
  };
  return buildSqlStore(backend);
}

interface Notifier {
  subscribe(listener: (revision: number) => void): () => void;
  close(): Promise<void>;
}

/**
 * One LISTEN connection per store. After every (re)connect the listeners are woken with the current
 * revision, since notifications sent while no connection was listening are lost.
 */
async function listen(config: pg.ClientConfig, current: () => Promise<number>): Promise<Notifier> {
  const listeners = new Set<(revision: number) => void>();
  const emit = (revision: number): void => {
    for (const listener of listeners) {
      try {
        listener(revision);
      } catch {
        /* a throwing listener must not stop the others */
      }
    }
  };
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  async function connect(): Promise<void> {
    const next = new pg.Client(config);
    next.on('notification', (message) => emit(Number(message.payload)));
    const lost = (error?: Error): void => {
      if (closed || client !== next) return;
      log.warn({ err: error }, 'LISTEN connection lost; reconnecting');
      client = undefined;
      next.end().catch(() => undefined);
      timer = setTimeout(() => void reconnect(), RECONNECT_MS);
      timer.unref();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    await next.connect();
    await next.query(`LISTEN ${CHANNEL}`);
    client = next;
  }

  async function reconnect(): Promise<void> {
    try {
      await connect();
      emit(await current());
    } catch (error) {
      if (closed) return;
      log.warn({ err: error }, 'LISTEN reconnect failed');
      timer = setTimeout(() => void reconnect(), RECONNECT_MS);
      timer.unref();
    }
  }

  await connect();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      listeners.clear();
      await client?.end();
    },
  };
}

/** `?` placeholders become `$1…$n` (the store's SQL never has a literal `?`). */
function connection(queryable: pg.Pool | pg.PoolClient): SqlConn {
  return {
    async query<R extends SqlRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      const result = await queryable.query(text, params as unknown[]);
      return result.rows as R[];
    },
  };
}
