import type Database from 'better-sqlite3';
import { armTypeOf, parseArmId } from '../api/arm-id.js';
import type { IndexedResource } from './store.js';

export interface ResourceTable {
  put(resource: IndexedResource): void;
  get(id: string): IndexedResource | undefined;
  /** By subscription, optionally by resource group; sorted by id. */
  list(subscriptionId: string, resourceGroup?: string): IndexedResource[];
  /** Removes the resource and everything nested under it (an RP deletes descendants with the parent). */
  deleteTree(id: string): void;
  /** Writes what is pending; called before the store closes. */
  flush(): void;
}

export const resourceKey = (id: string) => id.toLowerCase().replace(/\/+$/, '');

type Row = { id: string; owner: string; body: string };
type Statements = (sql: string) => Database.Statement;

/**
 * The `resources` table: the front door's own resources (connected clusters, custom locations:
 * `owner: 'local'`) and the index of RP resources (`owner: 'rp'`) that backs `/resources` listings
 * and resource-group cascade [FD duty 6].
 *
 * The index is written after every PUT/PATCH and every 200 GET that passes the front door, so it is
 * kept cheap:
 * - an unchanged envelope is not written again (the last written text is remembered per key);
 * - index rows are queued and committed together once per event-loop turn, on `indexDb`, a second
 *   connection with synchronous=NORMAL. The index is derivable from the RP: a row lost on power loss
 *   (a process crash loses nothing in WAL mode) comes back with the next GET/PUT of that resource,
 *   so it is not worth an fsync on the event loop for every request. `local` rows are the front
 *   door's own data and go through `db` (synchronous=FULL) at once.
 * - every read and delete first commits what is queued, so readers never see the index behind.
 */
export function resourceTable(
  db: Statements,
  indexDb: Database.Database,
  onError: (error: unknown) => void,
): ResourceTable {
  const written = new Map<string, { owner: string; text: string }>();
  const pending = new Map<string, { resource: IndexedResource; text: string }>();
  let scheduled: NodeJS.Immediate | undefined;
  const upsertSql =
    'INSERT OR REPLACE INTO resources (key, id, owner, subscription_id, resource_group, type, body) VALUES (?, ?, ?, ?, ?, ?, ?)';
  const indexUpsert = indexDb.prepare(upsertSql);
  const args = (r: IndexedResource, text: string) => {
    const { subscriptionId, resourceGroup } = segments(r.id);
    return [resourceKey(r.id), r.id, r.owner, subscriptionId, resourceGroup, typeOf(r.id), text];
  };
  const commitPending = indexDb.transaction((rows: { resource: IndexedResource; text: string }[]) => {
    for (const { resource, text } of rows) indexUpsert.run(...args(resource, text));
  });

  const flush = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    if (pending.size === 0) return;
    const rows = [...pending.values()];
    pending.clear();
    try {
      commitPending(rows);
    } catch (error) {
      // Forget what was not written, so the next PUT/GET of those resources tries again.
      for (const { resource } of rows) written.delete(resourceKey(resource.id));
      onError(error);
    }
  };

  const lastWritten = (key: string) => {
    let known = written.get(key);
    if (!known) {
      const row = db('SELECT owner, body FROM resources WHERE key = ?').get(key) as
        { owner: string; body: string } | undefined;
      if (row) written.set(key, (known = { owner: row.owner, text: row.body }));
    }
    return known;
  };

  return {
    put(resource) {
      const key = resourceKey(resource.id);
      const text = JSON.stringify(resource.body);
      const known = lastWritten(key);
      if (known && known.owner === resource.owner && known.text === text) return;
      written.set(key, { owner: resource.owner, text });
      if (resource.owner === 'local') {
        flush();
        db(upsertSql).run(...args(resource, text));
        return;
      }
      pending.set(key, { resource, text });
      scheduled ??= setImmediate(flush);
    },
    get(id) {
      flush();
      const row = db('SELECT id, owner, body FROM resources WHERE key = ?').get(resourceKey(id)) as Row | undefined;
      return row && toResource(row);
    },
    list(sub, rg) {
      flush();
      const rows =
        rg === undefined
          ? db('SELECT id, owner, body FROM resources WHERE subscription_id = ? ORDER BY key').all(sub.toLowerCase())
          : db(
              'SELECT id, owner, body FROM resources WHERE subscription_id = ? AND resource_group = ? ORDER BY key',
            ).all(sub.toLowerCase(), rg.toLowerCase());
      return (rows as Row[]).map(toResource);
    },
    deleteTree(id) {
      flush();
      const k = resourceKey(id);
      // A key range rather than substr(): the primary key's index answers it without a table scan.
      // '0' is the character after '/', so [k/, k0) is everything under k.
      db('DELETE FROM resources WHERE key = ? OR (key >= ? AND key < ?)').run(k, `${k}/`, `${k}0`);
      for (const known of written.keys()) if (known === k || known.startsWith(`${k}/`)) written.delete(known);
    },
    flush,
  };
}

function segments(id: string) {
  const parts = parseArmId(id);
  return {
    subscriptionId: (parts?.subscriptionId ?? '').toLowerCase(),
    resourceGroup: (parts?.resourceGroup ?? '').toLowerCase(),
  };
}

function typeOf(id: string) {
  return armTypeOf(id).toLowerCase();
}

function toResource(row: Row): IndexedResource {
  return {
    id: row.id,
    owner: row.owner as IndexedResource['owner'],
    body: JSON.parse(row.body) as Record<string, unknown>,
  };
}
