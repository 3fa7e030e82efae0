import type { ReadCaches } from './read-cache.js';

/**
 * The seam between the store's logic (sql-store.ts, written once) and a database. Backends differ in
 * how they connect, lock, draw revisions and notify; the SQL itself is common (`?` placeholders, ON
 * CONFLICT, RETURNING: both SQLite ≥ 3.35 and PostgreSQL speak it).
 */
export type SqlRow = Record<string, unknown>;

export interface SqlConn {
  /** Runs one statement with `?` placeholders; returns its rows ([] when it returns none). */
  query<R extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface SqlBackend {
  readonly name: 'sqlite' | 'postgres';
  /** Autocommit reads of committed data only. */
  readonly read: SqlConn;
  /**
   * Runs `fn` in a write transaction, serialised with every other writer of the database. `ended`
   * runs once it has committed or rolled back, in the same synchronous step and before the promise
   * settles: no other JavaScript sees the database changed before it ran.
   */
  writeTransaction<T>(fn: (conn: SqlConn) => Promise<T>, ended?: () => void): Promise<T>;
  /** Draws the next global revision inside a write transaction. */
  nextRevision(conn: SqlConn): Promise<number>;
  /** The highest committed revision. */
  currentRevision(conn: SqlConn): Promise<number>;
  /** Last step inside a transaction that appended events (PostgreSQL queues its NOTIFY here). */
  beforeCommit(conn: SqlConn, lastRevision: number): Promise<void>;
  /** After a commit that appended events (SQLite notifies its in-process listeners here). */
  afterCommit(lastRevision: number): void;
  subscribe(listener: (revision: number) => void): () => void;
  /**
   * Given only by a backend whose writes all pass through this process's Stores (SQLite, owned by
   * one process): what the store may answer from memory. See read-cache.ts.
   */
  readonly readCaches?: ReadCaches;
  close(): Promise<void>;
}

/** An ordered list of migrations; each is a list of statements, applied in one transaction. */
export type Migrations = readonly (readonly string[])[];

/**
 * Applies the migrations not yet recorded in `schema_version`. Call inside a write transaction so
 * that replicas opening the same database at once apply each migration exactly once.
 */
export async function applyMigrations(conn: SqlConn, migrations: Migrations): Promise<void> {
  await conn.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const [row] = await conn.query<{ v: number | string | null }>('SELECT max(version) AS v FROM schema_version');
  const current = Number(row?.v ?? 0);
  for (let v = current + 1; v <= migrations.length; v++) {
    for (const statement of migrations[v - 1]!) await conn.query(statement);
    await conn.query('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)', [v, new Date().toISOString()]);
  }
}
