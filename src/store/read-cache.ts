import type { ResourceJson, SubscriptionRow } from './types.js';

/** Most entries remembered; past it the oldest goes (resources are few, bodies small). */
const MAX_ENTRIES = 10_000;

/**
 * Rows the store answers from memory: resources as their stored JSON text (`resources.getJson`,
 * what GET sends) and subscriptions (checked by every write), each by lower-cased id.
 *
 * They are only correct where every write to the database is seen here, which is why only the
 * SQLite backend has them: a SQLite file is owned by one process (sqlite.ts), and all the Stores that
 * process opens on it share one set.
 * - Writes: every key a transaction touched (resource put, delete with its descendants, a
 *   subscription's purge, subscription put) is dropped in the same synchronous step as its COMMIT
 *   or rollback, before its caller — and so any client — hears of it. The Store is the only way to
 *   the tables, so every RP write (PUT, PATCH, DELETE and its cascade, agent status reports,
 *   expired operations, subscription state changes) passes that one place; compaction touches only
 *   the feed.
 * - A read that began before such a drop may finish after it with the old row: `ticket()` before
 *   the read and `fill()` refuses when any drop happened in between.
 * - PostgreSQL has none: another replica may commit at any time and its NOTIFY arrives later, so a
 *   cache there could answer with a state older than a write another replica has already
 *   acknowledged to the same client. It reads the database each time.
 */
export interface ReadCaches {
  resources: ReadCache<ResourceJson>;
  subscriptions: ReadCache<SubscriptionRow>;
}

export function createReadCaches(): ReadCaches {
  return { resources: new ReadCache(), subscriptions: new ReadCache() };
}

export class ReadCache<V extends object> {
  private readonly entries = new Map<string, Readonly<V>>();
  /** Bumped by every drop; a fill is only kept when none happened since its read began. */
  private generation = 0;

  /** Shared with every caller: frozen, never to be changed. */
  get(key: string): Readonly<V> | undefined {
    return this.entries.get(key);
  }

  /** Take before reading the database; hand to `fill`. */
  ticket(): number {
    return this.generation;
  }

  fill(key: string, value: V, ticket: number): void {
    if (ticket !== this.generation) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, Object.freeze(value));
  }

  /** After a transaction that wrote these keys has ended, committed or not. */
  drop(keys: readonly string[]): void {
    this.generation++;
    for (const key of keys) this.entries.delete(key);
  }
}
