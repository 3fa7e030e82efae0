import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { parseArmId } from './arm-id.js';
import type { ReadCache } from './read-cache.js';
import { ConflictError, GoneError, PreconditionFailedError, StoreUsageError } from './errors.js';
import type { SqlBackend, SqlConn, SqlRow } from './sql-backend.js';
import type {
  ChangeEvent,
  DeleteOptions,
  Feed,
  OperationInput,
  OperationPatch,
  OperationReads,
  OperationRow,
  Page,
  PageRequest,
  PutOptions,
  PutResult,
  ResourceInput,
  ResourceJson,
  ResourceReads,
  ResourceRow,
  Store,
  StoreTx,
  SubscriptionRow,
  SubscriptionWrites,
} from './types.js';

const DEFAULT_TOP = 100;
const MAX_TOP = 1000;
const OPEN_STATUSES = "('Accepted', 'Running')";

/** Marks the async context of a running transaction, to catch `store.x()` called where `tx.x()` was meant. */
const inTransaction = new AsyncLocalStorage<true>();

/** Builds the Store over a backend: all the logic, once. */
export function buildSqlStore(backend: SqlBackend): Store {
  function write<T>(fn: (conn: SqlConn) => Promise<T>, ended?: () => void): Promise<T> {
    // Writers are serialised, so a nested transaction would wait for itself forever.
    if (inTransaction.getStore()) {
      return Promise.reject(new StoreUsageError('Store called inside its own transaction: use the tx argument'));
    }
    return backend.writeTransaction((conn) => inTransaction.run(true, () => fn(conn)), ended);
  }

  const caches = backend.readCaches;

  async function transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const state: TxState = { lastRevision: 0, keys: [], subscriptionIds: [] };
    // The caches forget what the transaction wrote in the same step as its COMMIT (or rollback), so
    // no read in between can answer from a row the database no longer holds.
    const ended =
      caches &&
      ((): void => {
        if (state.keys.length) caches.resources.drop(state.keys);
        if (state.subscriptionIds.length) caches.subscriptions.drop(state.subscriptionIds);
      });
    const result = await write(async (conn) => {
      const value = await fn(buildTx(conn, backend, state));
      if (state.lastRevision) await backend.beforeCommit(conn, state.lastRevision);
      return value;
    }, ended);
    if (state.lastRevision) backend.afterCommit(state.lastRevision);
    return result;
  }

  const read = backend.read;

  /** Through the cache where there is one: a hit, else a read whose result fills it. */
  async function cachedRead<V extends object>(
    cache: ReadCache<V> | undefined,
    key: string,
    load: () => Promise<V | undefined>,
  ): Promise<V | undefined> {
    const hit = cache?.get(key);
    if (hit) return hit;
    const ticket = cache?.ticket();
    const value = await load();
    if (value) cache?.fill(key, value, ticket!);
    return value;
  }

  async function loadJson(key: string): Promise<ResourceJson | undefined> {
    const [row] = await read.query<{ body: string; etag: string }>('SELECT body, etag FROM resources WHERE key = ?', [
      key,
    ]);
    return row && { json: row.body, etag: row.etag };
  }

  const feed = buildFeed(backend, write);

  const resources: ResourceReads = {
    get: (id) => getResource(read, id),
    getJson: (id) => {
      const key = id.toLowerCase();
      return cachedRead(caches?.resources, key, () => loadJson(key));
    },
    put: (input, options) => transaction((tx) => tx.resources.put(input, options)),
    delete: (id, options) => transaction((tx) => tx.resources.delete(id, options)),
    listByParent: (parentId, type, page) =>
      listResources(read, 'parent_key = ? AND type_key = ?', [parentId.toLowerCase(), type.toLowerCase()], page),
    listByResourceGroup: (sub, rg, type, page) =>
      listResources(
        read,
        'subscription_id = ? AND resource_group = ? AND type_key = ?',
        [sub.toLowerCase(), rg.toLowerCase(), type.toLowerCase()],
        page,
      ),
    listBySubscription: (sub, type, page) =>
      listResources(read, 'subscription_id = ? AND type_key = ?', [sub.toLowerCase(), type.toLowerCase()], page),
    listByCustomLocations: (locations, page) =>
      locations.length === 0
        ? Promise.resolve({ items: [] })
        : listResources(read, `custom_location IN (${marks(locations)})`, locations.map(lower), page),
    countChildren: async (parentId, type) => {
      const params = [parentId.toLowerCase(), ...(type ? [type.toLowerCase()] : [])];
      const [row] = await read.query<{ n: number | string }>(
        `SELECT count(*) AS n FROM resources WHERE parent_key = ?${type ? ' AND type_key = ?' : ''}`,
        params,
      );
      return Number(row!.n);
    },
  };

  const operations: OperationReads = {
    get: (id) => getOperation(read, id),
    create: (input) => transaction((tx) => tx.operations.create(input)),
    update: (id, patch, compare) => transaction((tx) => tx.operations.update(id, patch, compare)),
    listExpired: async (now) =>
      (
        await read.query(
          `SELECT * FROM operations WHERE status IN ${OPEN_STATUSES} AND deadline < ? ORDER BY deadline, id`,
          [now],
        )
      ).map(toOperation),
    activeFor: async (resourceId) => {
      const rows = await read.query(
        `SELECT * FROM operations WHERE resource_key = ? AND status IN ${OPEN_STATUSES} ORDER BY start_time DESC, id DESC LIMIT 1`,
        [resourceId.toLowerCase()],
      );
      return rows[0] ? toOperation(rows[0]) : undefined;
    },
  };

  const subscriptions: SubscriptionWrites = {
    get: (id) =>
      cachedRead(caches?.subscriptions, id.toLowerCase(), async () => {
        const row = await getSubscription(read, id);
        if (row && caches) Object.freeze(row.properties); // shared once cached
        return row;
      }),
    put: (row) => transaction((tx) => tx.subscriptions.put(row)),
    deleteData: (id) => transaction((tx) => tx.subscriptions.deleteData(id)),
  };

  return {
    backend: backend.name,
    resources,
    operations,
    subscriptions,
    feed,
    transaction,
    close: () => backend.close(),
  };
}

interface TxState {
  /** Revision of the last event this transaction appended; 0 while none. */
  lastRevision: number;
  /** Lower-cased ids of the resources it wrote or deleted: what the read cache must drop. */
  keys: string[];
  /** Lower-cased ids of the subscriptions it wrote. */
  subscriptionIds: string[];
}

function buildTx(conn: SqlConn, backend: SqlBackend, state: TxState): StoreTx {
  /** `json`: the body as stored, for an upsert; a delete carries none. */
  async function appendEvent(
    event: Omit<ChangeEvent, 'revision' | 'body'> & { key: string; json?: string },
  ): Promise<number> {
    const revision = await backend.nextRevision(conn);
    await conn.query(
      'INSERT INTO changes (revision, kind, key, id, type, custom_location, etag, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [
        revision,
        event.kind,
        event.key,
        event.id,
        event.type,
        event.customLocation,
        event.etag ?? null,
        event.json ?? null,
      ],
    );
    state.lastRevision = revision;
    return revision;
  }

  // Writes build the row they return from what they wrote: RETURNING * costs SQLite more than the
  // insert itself, and the body would only be parsed back from the text just written.
  async function createOperation(input: OperationInput): Promise<OperationRow> {
    const row: OperationRow = {
      id: input.id,
      resourceId: input.resourceId,
      status: input.status ?? 'Accepted',
      kind: input.kind,
      expectedEtag: input.expectedEtag,
      startTime: input.startTime ?? new Date().toISOString(),
      deadline: input.deadline,
    };
    await conn.query(
      `INSERT INTO operations (id, resource_key, resource_id, status, kind, expected_etag, start_time, deadline)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        row.id,
        row.resourceId.toLowerCase(),
        row.resourceId,
        row.status,
        row.kind,
        row.expectedEtag,
        row.startTime,
        row.deadline,
      ],
    );
    return row;
  }

  async function deleteTree(key: string): Promise<ResourceRow[]> {
    // Descendants are exactly the keys in [key + '/', key + '0'): '0' follows '/' bytewise.
    const where = 'key = ? OR (key > ? AND key < ?)';
    const params = [key, `${key}/`, `${key}0`];
    const rows = (await conn.query(`DELETE FROM resources WHERE ${where} RETURNING *`, params)).map(toResource);
    for (const row of rows) state.keys.push(row.key);
    // Descendants first, so a consumer applying events in order never sees an orphan.
    rows.sort((a, b) => b.key.length - a.key.length || (a.key < b.key ? -1 : 1));
    for (const row of rows) {
      await appendEvent({
        kind: 'delete',
        key: row.key,
        id: row.id,
        type: row.type,
        customLocation: row.customLocation,
      });
    }
    return rows;
  }

  return {
    resources: {
      get: (id) => getResource(conn, id),

      async put(input: ResourceInput, options: PutOptions = {}): Promise<PutResult> {
        const key = input.id.toLowerCase();
        const parts = parseArmId(input.id);
        state.keys.push(key);
        const current = await getResource(conn, key);
        if (options.ifNoneMatch === '*' && current) throw new ConflictError(input.id);
        if (
          options.ifMatch !== undefined &&
          (!current || (options.ifMatch !== '*' && options.ifMatch !== current.etag))
        ) {
          throw new PreconditionFailedError(input.id);
        }
        const parentKey = input.parentId !== undefined ? (input.parentId?.toLowerCase() ?? null) : parts.parentKey;
        const customLocation = await resolveCustomLocation(conn, input, parentKey);
        const etag = input.etag ?? randomUUID();
        const json = JSON.stringify(input.body);
        const revision = await appendEvent({
          kind: 'upsert',
          key,
          id: input.id,
          type: input.type,
          customLocation,
          etag,
          json,
        });
        const resource: ResourceRow = {
          id: input.id,
          key,
          type: input.type,
          subscriptionId: parts.subscriptionId,
          resourceGroup: parts.resourceGroup,
          parentKey,
          customLocation,
          body: JSON.parse(json) as Record<string, unknown>, // a snapshot, as a read would give
          etag,
          revision,
        };
        await conn.query(
          `INSERT INTO resources (key, id, type, type_key, subscription_id, resource_group, parent_key, custom_location, body, etag, revision)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET id = excluded.id, type = excluded.type, type_key = excluded.type_key,
             subscription_id = excluded.subscription_id, resource_group = excluded.resource_group,
             parent_key = excluded.parent_key, custom_location = excluded.custom_location, body = excluded.body,
             etag = excluded.etag, revision = excluded.revision`,
          [
            key,
            input.id,
            input.type,
            input.type.toLowerCase(),
            resource.subscriptionId,
            resource.resourceGroup,
            parentKey,
            customLocation,
            json,
            etag,
            revision,
          ],
        );
        const result: PutResult = { resource, created: !current };
        if (options.operation) {
          result.operation = await createOperation({
            ...options.operation,
            resourceId: options.operation.resourceId ?? input.id,
            expectedEtag: options.operation.expectedEtag ?? etag,
          });
        }
        return result;
      },

      async delete(id: string, options: DeleteOptions = {}): Promise<ResourceRow[]> {
        const key = id.toLowerCase();
        if (options.ifMatch !== undefined) {
          const current = await getResource(conn, key);
          if (!current || (options.ifMatch !== '*' && options.ifMatch !== current.etag))
            throw new PreconditionFailedError(id);
        }
        return deleteTree(key);
      },
    },

    operations: {
      get: (id) => getOperation(conn, id),
      create: createOperation,
      async update(id: string, patch: OperationPatch, compare: { expectedEtag?: string } = {}) {
        const sets: string[] = [];
        const params: unknown[] = [];
        const set = (column: string, value: unknown): void => {
          sets.push(`${column} = ?`);
          params.push(value);
        };
        if (patch.status !== undefined) set('status', patch.status);
        if (patch.endTime !== undefined) set('end_time', patch.endTime);
        if (patch.error !== undefined) set('error', JSON.stringify(patch.error));
        if (sets.length === 0) sets.push('id = id');
        let where = `id = ? AND status IN ${OPEN_STATUSES}`;
        params.push(id);
        if (compare.expectedEtag !== undefined) {
          where += ' AND expected_etag = ?';
          params.push(compare.expectedEtag);
        }
        const [row] = await conn.query(`UPDATE operations SET ${sets.join(', ')} WHERE ${where} RETURNING *`, params);
        return row ? toOperation(row) : undefined;
      },
    },

    subscriptions: {
      get: (id) => getSubscription(conn, id),
      async put(sub: SubscriptionRow) {
        state.subscriptionIds.push(sub.id.toLowerCase());
        const [row] = await conn.query(
          `INSERT INTO subscriptions (id, state, tenant_id, properties, registration_date) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET state = excluded.state, tenant_id = excluded.tenant_id,
             properties = excluded.properties, registration_date = excluded.registration_date
           RETURNING *`,
          [sub.id.toLowerCase(), sub.state, sub.tenantId ?? null, JSON.stringify(sub.properties), sub.registrationDate],
        );
        return toSubscription(row!);
      },
      async deleteData(subscriptionId: string) {
        const sub = subscriptionId.toLowerCase();
        // Top-level resources only: deleteTree takes each one's descendants with it.
        const tops = await conn.query<{ key: string }>(
          'SELECT key FROM resources WHERE subscription_id = ? AND parent_key IS NULL ORDER BY key',
          [sub],
        );
        let count = 0;
        for (const { key } of tops) count += (await deleteTree(key)).length;
        // Orphans (a parent written without its child's consistency) go too.
        const rest = await conn.query<{ key: string }>(
          'SELECT key FROM resources WHERE subscription_id = ? ORDER BY key',
          [sub],
        );
        for (const { key } of rest) count += (await deleteTree(key)).length;
        await conn.query("DELETE FROM operations WHERE resource_key LIKE ? ESCAPE '\\'", [
          `/subscriptions/${escapeLike(sub)}/%`,
        ]);
        return count;
      },
    },
  };
}

function buildFeed(backend: SqlBackend, write: <T>(fn: (conn: SqlConn) => Promise<T>) => Promise<T>): Feed {
  const read = backend.read;
  async function compactedThrough(conn: SqlConn): Promise<number> {
    const [row] = await conn.query<{ value: number | string }>(
      "SELECT value FROM meta WHERE name = 'compacted_through'",
    );
    return Number(row!.value);
  }
  const feed: Feed = {
    async changesSince(customLocations, sinceRevision, limit = 500) {
      const rows =
        customLocations.length === 0
          ? []
          : await read.query(
              `SELECT * FROM changes WHERE custom_location IN (${marks(customLocations)}) AND revision > ? ORDER BY revision LIMIT ?`,
              [...customLocations.map(lower), sinceRevision, limit],
            );
      // Checked after reading: compaction only moves forward, so this also catches one that raced the read.
      const compacted = await compactedThrough(read);
      if (sinceRevision < compacted) throw new GoneError(sinceRevision, compacted + 1);
      return rows.map(toChange);
    },
    currentRevision: () => backend.currentRevision(read),
    oldestRevision: async () => (await compactedThrough(read)) + 1,
    async compactBefore(revision) {
      await write(async (conn) => {
        const through = Math.min(revision - 1, await backend.currentRevision(conn));
        if (through <= (await compactedThrough(conn))) return;
        await conn.query('DELETE FROM changes WHERE revision <= ?', [through]);
        await conn.query("UPDATE meta SET value = ? WHERE name = 'compacted_through'", [through]);
      });
    },
    subscribe: (listener) => backend.subscribe(listener),
    waitForRevision(revision, signal) {
      return new Promise((resolve, reject) => {
        let settled = false;
        const finish = (value: number | undefined): void => {
          if (settled) return;
          settled = true;
          unsubscribe();
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        };
        const onAbort = (): void => finish(undefined);
        // Subscribe before reading, so a commit between the read and the subscription is not missed.
        const unsubscribe = backend.subscribe((r) => r > revision && finish(r));
        if (signal?.aborted) return finish(undefined);
        signal?.addEventListener('abort', onAbort);
        backend.currentRevision(read).then((current) => current > revision && finish(current), reject);
      });
    },
  };
  return feed;
}

async function resolveCustomLocation(
  conn: SqlConn,
  input: ResourceInput,
  parentKey: string | null,
): Promise<string | null> {
  if (input.customLocation !== undefined) return input.customLocation?.toLowerCase() ?? null;
  const extended = input.body.extendedLocation as { name?: unknown } | undefined;
  if (typeof extended?.name === 'string') return extended.name.toLowerCase();
  if (!parentKey) return null;
  // Child resources route to their parent's cluster.
  const [row] = await conn.query<{ custom_location: string | null }>(
    'SELECT custom_location FROM resources WHERE key = ?',
    [parentKey],
  );
  return row?.custom_location ?? null;
}

async function getResource(conn: SqlConn, id: string): Promise<ResourceRow | undefined> {
  const [row] = await conn.query('SELECT * FROM resources WHERE key = ?', [id.toLowerCase()]);
  return row ? toResource(row) : undefined;
}

async function getOperation(conn: SqlConn, id: string): Promise<OperationRow | undefined> {
  const [row] = await conn.query('SELECT * FROM operations WHERE id = ?', [id]);
  return row ? toOperation(row) : undefined;
}

async function getSubscription(conn: SqlConn, id: string): Promise<SubscriptionRow | undefined> {
  const [row] = await conn.query('SELECT * FROM subscriptions WHERE id = ?', [id.toLowerCase()]);
  return row ? toSubscription(row) : undefined;
}

/** Keyset paging on the key: stable under concurrent writes, no OFFSET scans. */
async function listResources(
  conn: SqlConn,
  where: string,
  params: unknown[],
  page: PageRequest = {},
): Promise<Page<ResourceRow>> {
  const top = Math.min(Math.max(1, Math.floor(page.top ?? DEFAULT_TOP)), MAX_TOP);
  const after = page.skipToken === undefined ? undefined : decodeSkipToken(page.skipToken);
  const rows = await conn.query(
    `SELECT * FROM resources WHERE (${where})${after === undefined ? '' : ' AND key > ?'} ORDER BY key LIMIT ?`,
    [...params, ...(after === undefined ? [] : [after]), top + 1],
  );
  const items = rows.slice(0, top).map(toResource);
  return rows.length > top ? { items, nextSkipToken: encodeSkipToken(items[items.length - 1]!.key) } : { items };
}

function encodeSkipToken(key: string): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

function decodeSkipToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof parsed.k === 'string') return parsed.k;
  } catch {
    // fall through
  }
  throw new StoreUsageError('Invalid skip token');
}

function marks(values: readonly unknown[]): string {
  return values.map(() => '?').join(', ');
}

function lower(s: string): string {
  return s.toLowerCase();
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function toResource(r: SqlRow): ResourceRow {
  return {
    id: r.id as string,
    key: r.key as string,
    type: r.type as string,
    subscriptionId: r.subscription_id as string,
    resourceGroup: (r.resource_group as string | null) ?? null,
    parentKey: (r.parent_key as string | null) ?? null,
    customLocation: (r.custom_location as string | null) ?? null,
    body: JSON.parse(r.body as string) as Record<string, unknown>,
    etag: r.etag as string,
    revision: Number(r.revision),
  };
}

function toChange(r: SqlRow): ChangeEvent {
  const event: ChangeEvent = {
    revision: Number(r.revision),
    kind: r.kind as ChangeEvent['kind'],
    id: r.id as string,
    type: r.type as string,
    customLocation: (r.custom_location as string | null) ?? null,
  };
  if (r.etag != null) event.etag = r.etag as string;
  if (r.body != null) event.body = JSON.parse(r.body as string) as Record<string, unknown>;
  return event;
}

function toOperation(r: SqlRow): OperationRow {
  const op: OperationRow = {
    id: r.id as string,
    resourceId: r.resource_id as string,
    status: r.status as OperationRow['status'],
    kind: r.kind as OperationRow['kind'],
    expectedEtag: r.expected_etag as string,
    startTime: r.start_time as string,
    deadline: r.deadline as string,
  };
  if (r.end_time != null) op.endTime = r.end_time as string;
  if (r.error != null) op.error = JSON.parse(r.error as string);
  return op;
}

function toSubscription(r: SqlRow): SubscriptionRow {
  const sub: SubscriptionRow = {
    id: r.id as string,
    state: r.state as SubscriptionRow['state'],
    properties: JSON.parse(r.properties as string) as Record<string, unknown>,
    registrationDate: r.registration_date as string,
  };
  if (r.tenant_id != null) sub.tenantId = r.tenant_id as string;
  return sub;
}
