import type { ResourceJson } from './types.js';

/** Most resources remembered; past it the oldest entry goes (resources are few, bodies small). */
const MAX_ENTRIES = 10_000;

/**
 * The read cache in front of `resources.getJson`: stored JSON text and ETag by lower-cased id.
 *
 * It is only correct where every write to the database is seen here, which is why only the SQLite
 * backend has one: a SQLite file is owned by one process (sqlite.ts), and all the Stores that
 * process opens on it share this cache.
 * - Writes: every key a transaction touched (put, delete with its descendants, a subscription's
 *   purge) is dropped once the transaction has committed or rolled back, before its caller — and so
 *   any client — hears of it. The Store is the only way to the tables, so every RP write (PUT,
 *   PATCH, DELETE and its cascade, agent status reports, expired operations) passes that one place;
 *   compaction touches only the feed.
 * - A read that began before such a drop may finish after it with the old row: `ticket()` before
 *   the read and `fill()` refuses when any drop happened in between.
 * - PostgreSQL has none: another replica may commit at any time and its NOTIFY arrives later, so a
 *   cache there could answer a GET with a state older than a write another replica has already
 *   acknowledged to the same client. It reads the database each time.
 */
export class ReadCache {
  private readonly entries = new Map<string, Readonly<ResourceJson>>();
  /** Bumped by every drop; a fill is only kept when none happened since its read began. */
  private generation = 0;

  get(key: string): Readonly<ResourceJson> | undefined {
    return this.entries.get(key);
  }

  /** Take before reading the database; hand to `fill`. */
  ticket(): number {
    return this.generation;
  }

  fill(key: string, value: ResourceJson, ticket: number): void {
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
