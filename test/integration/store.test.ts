import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  createStore,
  GoneError,
  PreconditionFailedError,
  StoreUsageError,
  type ResourceInput,
  type ResourceJson,
  type Store,
} from '../../src/store/index.js';
import { ReadCache } from '../../src/store/read-cache.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';

const SUB = '0000AAAA-0000-0000-0000-000000000001';
const OTHER_SUB = '0000BBBB-0000-0000-0000-000000000002';
const MQ = 'Microsoft.IoTOperationsMQ/mq';
const BROKER = 'Microsoft.IoTOperationsMQ/mq/broker';
const LISTENER = 'Microsoft.IoTOperationsMQ/mq/broker/listener';
const customLocation = (name: string, sub = SUB): string =>
  `/subscriptions/${sub}/resourceGroups/Edge/providers/Microsoft.ExtendedLocation/customLocations/${name}`;
const CL1 = customLocation('Site-1');
const CL2 = customLocation('Site-2');
const mqId = (name: string, rg = 'RG-One', sub = SUB): string =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.IoTOperationsMQ/mq/${name}`;
const HOUR = 3_600_000;
const inAnHour = (): string => new Date(Date.now() + HOUR).toISOString();

/** An ARM resource as the RP would store it; children carry no extendedLocation unless given. */
function resource(id: string, type: string, location?: string, extra: Record<string, unknown> = {}): ResourceInput {
  const name = id.split('/').pop()!;
  const body: Record<string, unknown> = { id, name, type, properties: { provisioningState: 'Accepted', ...extra } };
  if (location) body.extendedLocation = { name: location, type: 'CustomLocation' };
  return { id, type, body };
}

/**
 * The one abstract suite: every Store backend must pass it. `newUrl` gives a fresh, empty store URL;
 * `open()` in a test opens another Store on the same URL (a second RP replica).
 */
function describeStore(name: string, newUrl: () => Promise<string>): void {
  describe(`Store on ${name}`, () => {
    let url: string;
    let store: Store;
    const opened: Store[] = [];
    const open = async (): Promise<Store> => {
      const s = await createStore(url);
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      url = await newUrl();
      store = await open();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('creates, reads, replaces and deletes a resource', async () => {
      const id = mqId('Mq-A');
      const created = await store.resources.put(resource(id, MQ, CL1));
      expect(created.created).toBe(true);
      expect(created.resource).toMatchObject({
        id,
        key: id.toLowerCase(),
        type: MQ,
        customLocation: CL1.toLowerCase(),
      });

      const replaced = await store.resources.put(resource(id, MQ, CL1, { tier: 'gold' }));
      expect(replaced.created).toBe(false);
      expect(replaced.resource.etag).not.toBe(created.resource.etag);
      expect(replaced.resource.revision).toBeGreaterThan(created.resource.revision);
      expect((await store.resources.get(id))!.body).toEqual(resource(id, MQ, CL1, { tier: 'gold' }).body);

      const deleted = await store.resources.delete(id);
      expect(deleted.map((r) => r.id)).toEqual([id]);
      expect(await store.resources.get(id)).toBeUndefined();
      expect(await store.resources.delete(id)).toEqual([]);
    });

    it('keys by the lower-cased id and keeps the last writer’s casing', async () => {
      const id = mqId('MixedCase');
      await store.resources.put(resource(id, MQ, CL1));
      const row = (await store.resources.get(id.toUpperCase()))!;
      expect(row).toMatchObject({
        id,
        key: id.toLowerCase(),
        subscriptionId: SUB.toLowerCase(),
        resourceGroup: 'rg-one',
        parentKey: null,
      });
      const broker = `${id.toLowerCase()}/BROKER/Default`;
      await store.resources.put(resource(broker, BROKER));
      expect((await store.resources.get(broker.toLowerCase()))!.parentKey).toBe(id.toLowerCase());

      const recased = id.replace('MixedCase', 'MIXEDcase');
      await store.resources.put(resource(recased, MQ, CL1));
      expect((await store.resources.get(id))!.id).toBe(recased);
      expect((await store.resources.listBySubscription(SUB, MQ)).items).toHaveLength(1);
    });

    it('enforces If-Match and If-None-Match', async () => {
      const id = mqId('etags');
      await expect(store.resources.put(resource(id, MQ, CL1), { ifMatch: 'nope' })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      const first = await store.resources.put(resource(id, MQ, CL1), { ifNoneMatch: '*' });
      await expect(store.resources.put(resource(id, MQ, CL1), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
        ConflictError,
      );
      await expect(store.resources.put(resource(id, MQ, CL1), { ifMatch: 'stale' })).rejects.toMatchObject({
        code: 'PreconditionFailed',
        status: 412,
      });
      const second = await store.resources.put(resource(id, MQ, CL1), { ifMatch: first.resource.etag });
      await expect(store.resources.delete(id, { ifMatch: first.resource.etag })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      expect(await store.resources.get(id)).toBeDefined();
      expect(await store.resources.delete(id, { ifMatch: second.resource.etag })).toHaveLength(1);
    });

    it('accepts a caller-chosen ETag so the body can carry it', async () => {
      const id = mqId('own-etag');
      const { resource: row } = await store.resources.put({ ...resource(id, MQ, CL1), etag: 'e-1' });
      expect(row.etag).toBe('e-1');
    });

    it('deletes a resource with all its descendants, and nothing else', async () => {
      const mq1 = mqId('mq1');
      const mq10 = mqId('mq10'); // shares the prefix "mq1" but is no descendant
      await store.resources.put(resource(mq1, MQ, CL1));
      await store.resources.put(resource(mq10, MQ, CL1));
      await store.resources.put(resource(`${mq1}/broker/a`, BROKER));
      await store.resources.put(resource(`${mq1}/broker/b`, BROKER));
      await store.resources.put(resource(`${mq1}/broker/a/listener/l`, LISTENER));
      await store.resources.put(resource(`${mq10}/broker/a`, BROKER));
      expect(await store.resources.countChildren(mq1, BROKER)).toBe(2);
      expect(await store.resources.countChildren(mq1.toUpperCase())).toBe(2);
      const before = await store.feed.currentRevision();

      const deleted = await store.resources.delete(mq1.toUpperCase());
      expect(deleted.map((r) => r.key)).toEqual(
        [`${mq1}/broker/a/listener/l`, `${mq1}/broker/a`, `${mq1}/broker/b`, mq1].map((k) => k.toLowerCase()),
      );
      expect(await store.resources.countChildren(mq1)).toBe(0);
      expect(await store.resources.get(`${mq1}/broker/a/listener/l`)).toBeUndefined();
      expect(await store.resources.get(mq10)).toBeDefined();
      expect(await store.resources.get(`${mq10}/broker/a`)).toBeDefined();

      const events = await store.feed.changesSince([CL1], before);
      expect(events.map((e) => [e.kind, e.id])).toEqual(deleted.map((r) => ['delete', r.id]));
      expect(events.every((e) => e.body === undefined)).toBe(true);
    });

    it('pages lists with skip tokens in a stable order', async () => {
      for (let i = 0; i < 25; i++) await store.resources.put(resource(mqId(`m${String(i).padStart(2, '0')}`), MQ, CL1));
      for (let i = 0; i < 3; i++) await store.resources.put(resource(mqId(`other${i}`, 'RG-Two'), MQ, CL1));
      for (let i = 0; i < 7; i++) await store.resources.put(resource(`${mqId('m00')}/broker/b${i}`, BROKER));
      await store.resources.put(resource(mqId('elsewhere', 'RG-One', OTHER_SUB), MQ, CL1));

      const pages: string[][] = [];
      let skipToken: string | undefined;
      do {
        const page = await store.resources.listByResourceGroup(SUB.toLowerCase(), 'rg-ONE', MQ.toLowerCase(), {
          top: 10,
          skipToken,
        });
        pages.push(page.items.map((r) => r.id));
        skipToken = page.nextSkipToken;
      } while (skipToken);
      expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
      const all = pages.flat();
      expect(all).toEqual(Array.from({ length: 25 }, (_, i) => mqId(`m${String(i).padStart(2, '0')}`)));

      expect((await store.resources.listBySubscription(SUB, MQ, { top: 1000 })).items).toHaveLength(28);
      expect((await store.resources.listBySubscription(OTHER_SUB, MQ)).items).toHaveLength(1);

      const first = await store.resources.listByParent(mqId('m00'), BROKER, { top: 3 });
      const second = await store.resources.listByParent(mqId('m00'), BROKER, {
        top: 3,
        skipToken: first.nextSkipToken,
      });
      const third = await store.resources.listByParent(mqId('m00'), BROKER, {
        top: 3,
        skipToken: second.nextSkipToken,
      });
      expect([first, second, third].map((p) => p.items.length)).toEqual([3, 3, 1]);
      expect(third.nextSkipToken).toBeUndefined();

      const exact = await store.resources.listByResourceGroup(SUB, 'rg-two', MQ, { top: 3 });
      expect(exact.items).toHaveLength(3);
      expect(exact.nextSkipToken).toBeUndefined();
      await expect(store.resources.listBySubscription(SUB, MQ, { skipToken: '!!' })).rejects.toBeInstanceOf(
        StoreUsageError,
      );
    });

    it('feeds events in revision order, filtered by custom location', async () => {
      const start = await store.feed.currentRevision();
      const a = mqId('a');
      const b = mqId('b');
      await store.resources.put(resource(a, MQ, CL1));
      await store.resources.put(resource(b, MQ, CL2));
      // A child without extendedLocation routes to its parent's custom location.
      await store.resources.put(resource(`${a}/broker/default`, BROKER));
      await store.resources.put(resource(a, MQ, CL1, { v: 2 }));
      await store.resources.delete(b);

      const site1 = await store.feed.changesSince([CL1.toUpperCase()], start);
      expect(site1.map((e) => [e.kind, e.id])).toEqual([
        ['upsert', a],
        ['upsert', `${a}/broker/default`],
        ['upsert', a],
      ]);
      expect(site1[2]!.body).toMatchObject({ properties: { v: 2 } });
      expect(site1[2]!.etag).toBe((await store.resources.get(a))!.etag);
      expect(site1.every((e) => e.customLocation === CL1.toLowerCase())).toBe(true);
      const revisions = site1.map((e) => e.revision);
      expect([...revisions].sort((x, y) => x - y)).toEqual(revisions);

      const site2 = await store.feed.changesSince([CL2], start);
      expect(site2.map((e) => e.kind)).toEqual(['upsert', 'delete']);
      const both = await store.feed.changesSince([CL1, CL2], start);
      expect(both).toHaveLength(5);
      expect(both.at(-1)!.revision).toBe(await store.feed.currentRevision());
      expect(await store.feed.changesSince([CL1, CL2], start, 2)).toEqual(both.slice(0, 2));
      expect(await store.feed.changesSince([CL1, CL2], both[2]!.revision)).toEqual(both.slice(3));
      expect(await store.feed.changesSince([], start)).toEqual([]);

      const relist = await store.resources.listByCustomLocations([CL1]);
      expect(relist.items.map((r) => r.id)).toEqual([a, `${a}/broker/default`]);
    });

    it('answers Gone behind the compaction horizon', async () => {
      expect(await store.feed.oldestRevision()).toBe(1);
      const revisions: number[] = [];
      for (let i = 0; i < 5; i++)
        revisions.push((await store.resources.put(resource(mqId(`c${i}`), MQ, CL1))).resource.revision);
      const current = await store.feed.currentRevision();
      expect(current).toBe(revisions[4]);

      await store.feed.compactBefore(revisions[3]!);
      expect(await store.feed.oldestRevision()).toBe(revisions[3]);
      expect((await store.feed.changesSince([CL1], revisions[2]!)).map((e) => e.revision)).toEqual(revisions.slice(3));
      const gone = await store.feed.changesSince([CL1], revisions[1]!).catch((e: unknown) => e);
      expect(gone).toBeInstanceOf(GoneError);
      expect(gone).toMatchObject({ status: 410, oldestRevision: revisions[3] });
      expect(await store.feed.currentRevision()).toBe(current);

      // Compacting past the head is clamped: the revision does not move and new writes still follow.
      await store.feed.compactBefore(current + 100);
      expect(await store.feed.currentRevision()).toBe(current);
      expect(await store.feed.oldestRevision()).toBe(current + 1);
      expect(await store.feed.changesSince([CL1], current)).toEqual([]);
      const next = await store.resources.put(resource(mqId('after'), MQ, CL1));
      expect(next.resource.revision).toBeGreaterThan(current);
      expect((await store.feed.changesSince([CL1], current)).map((e) => e.id)).toEqual([mqId('after')]);
    });

    it('writes a resource with its async operation and compare-and-updates the operation', async () => {
      const id = mqId('op');
      const { resource: row, operation } = await store.resources.put(resource(id, MQ, CL1), {
        operation: { id: 'op-1', kind: 'put', deadline: inAnHour() },
      });
      expect(operation).toMatchObject({ id: 'op-1', resourceId: id, status: 'Accepted', expectedEtag: row.etag });
      expect(await store.operations.get('op-1')).toEqual(operation);
      expect((await store.operations.activeFor(id.toUpperCase()))!.id).toBe('op-1');

      expect(await store.operations.update('op-1', { status: 'Running' }, { expectedEtag: 'stale' })).toBeUndefined();
      expect((await store.operations.update('op-1', { status: 'Running' }, { expectedEtag: row.etag }))!.status).toBe(
        'Running',
      );
      const end = new Date().toISOString();
      const done = await store.operations.update('op-1', {
        status: 'Failed',
        endTime: end,
        error: { code: 'X', message: 'y' },
      });
      expect(done).toMatchObject({ status: 'Failed', endTime: end, error: { code: 'X', message: 'y' } });
      // Terminal: a late report changes nothing.
      expect(await store.operations.update('op-1', { status: 'Succeeded' })).toBeUndefined();
      expect((await store.operations.get('op-1'))!.status).toBe('Failed');
      expect(await store.operations.activeFor(id)).toBeUndefined();
      expect(await store.operations.update('missing', { status: 'Succeeded' })).toBeUndefined();

      const past = new Date(Date.now() - HOUR).toISOString();
      await store.operations.create({
        id: 'op-2',
        resourceId: id,
        kind: 'delete',
        expectedEtag: row.etag,
        deadline: past,
      });
      await store.operations.create({
        id: 'op-3',
        resourceId: id,
        kind: 'put',
        expectedEtag: row.etag,
        deadline: inAnHour(),
      });
      expect((await store.operations.listExpired(new Date().toISOString())).map((o) => o.id)).toEqual(['op-2']);
    });

    it('stores subscriptions and removes all data of one', async () => {
      await store.subscriptions.put({
        id: SUB,
        state: 'Registered',
        tenantId: 't1',
        properties: { a: 1 },
        registrationDate: '2024-01-01T00:00:00.000Z',
      });
      expect(await store.subscriptions.get(SUB.toLowerCase())).toMatchObject({
        id: SUB.toLowerCase(),
        state: 'Registered',
        tenantId: 't1',
      });
      await store.subscriptions.put({
        id: SUB,
        state: 'Suspended',
        properties: {},
        registrationDate: '2024-01-01T00:00:00.000Z',
      });
      const sub = (await store.subscriptions.get(SUB))!;
      expect(sub.state).toBe('Suspended');
      expect(sub.tenantId).toBeUndefined();
      expect(await store.subscriptions.get(OTHER_SUB)).toBeUndefined();

      await store.resources.put(resource(mqId('x'), MQ, CL1), {
        operation: { id: 'op-x', kind: 'put', deadline: inAnHour() },
      });
      await store.resources.put(resource(`${mqId('x')}/broker/b`, BROKER));
      await store.resources.put(resource(mqId('y', 'rg2'), MQ, CL1));
      await store.resources.put(resource(mqId('keep', 'rg', OTHER_SUB), MQ, CL1));
      const before = await store.feed.currentRevision();

      expect(await store.subscriptions.deleteData(SUB.toUpperCase())).toBe(3);
      expect((await store.resources.listBySubscription(SUB, MQ)).items).toEqual([]);
      expect(await store.resources.get(`${mqId('x')}/broker/b`)).toBeUndefined();
      expect(await store.operations.get('op-x')).toBeUndefined();
      expect((await store.resources.listBySubscription(OTHER_SUB, MQ)).items).toHaveLength(1);
      expect((await store.feed.changesSince([CL1], before)).map((e) => e.kind)).toEqual(['delete', 'delete', 'delete']);
    });

    it('reads the stored JSON text as written, and follows every write to it at once', async () => {
      const id = mqId('Json-A');
      const child = `${id}/broker/b`;
      const written = await store.resources.put(resource(id, MQ, CL1, { tier: 'gold' }));
      await store.resources.put(resource(child, BROKER));
      const json = async (key: string) => store.resources.getJson(key);
      expect(await json(id.toUpperCase())).toEqual({
        json: JSON.stringify(resource(id, MQ, CL1, { tier: 'gold' }).body),
        etag: written.resource.etag,
      });
      expect((await json(child))!.etag).toBeDefined(); // now remembered, where the store caches

      const replaced = await store.resources.put(resource(id, MQ, CL1, { tier: 'silver' }));
      expect(await json(id)).toEqual({ json: JSON.stringify(replaced.resource.body), etag: replaced.resource.etag });
      const inTx = await store.transaction((tx) => tx.resources.put(resource(id, MQ, CL1, { tier: 'bronze' })));
      expect((await json(id))!.etag).toBe(inTx.resource.etag);
      // A rolled-back write leaves the last committed body.
      await expect(
        store.transaction(async (tx) => {
          await tx.resources.put(resource(id, MQ, CL1, { tier: 'lost' }));
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(JSON.parse((await json(id))!.json).properties.tier).toBe('bronze');
      // Another Store on the same database (a second replica; on SQLite, the same process).
      const replica = await open();
      const fromReplica = await replica.resources.put(resource(id, MQ, CL1, { tier: 'replica' }));
      expect((await json(id))!.etag).toBe(fromReplica.resource.etag);
      // Subscriptions too (every write checks one's state).
      const subscription = { id: SUB, properties: {}, registrationDate: '2024-01-01T00:00:00.000Z' } as const;
      await store.subscriptions.put({ ...subscription, state: 'Registered' });
      expect((await store.subscriptions.get(SUB))!.state).toBe('Registered');
      await replica.subscriptions.put({ ...subscription, state: 'Warned' });
      expect((await store.subscriptions.get(SUB.toUpperCase()))!.state).toBe('Warned');
      // Cascade delete takes the children with it.
      await store.resources.delete(id);
      expect(await json(id)).toBeUndefined();
      expect(await json(child)).toBeUndefined();
      // And a subscription's purge.
      await store.resources.put(resource(id, MQ, CL1));
      expect(await json(id)).toBeDefined();
      await store.subscriptions.deleteData(SUB);
      expect(await json(id)).toBeUndefined();
    });

    it('never answers a read with a body older than a write that has returned', async () => {
      const id = mqId('Json-Race');
      const { resource: before } = await store.resources.put(resource(id, MQ, CL1));
      // Reads issued while the write is uncommitted see the committed body (on PostgreSQL one may
      // complete after the commit and see the new one), and must not leave it behind for later reads.
      const during: Promise<ResourceJson | undefined>[] = [];
      const { resource: after } = await store.transaction(async (tx) => {
        const result = await tx.resources.put(resource(id, MQ, CL1, { round: 1 }));
        // Readers at every depth of the promise chain, so some run between this body and its COMMIT.
        let hop: Promise<unknown> = Promise.resolve();
        for (let depth = 0; depth < 40; depth++) {
          hop = hop.then(() => during.push(store.resources.getJson(id)));
        }
        return result;
      });
      // (SQLite reads synchronously: the first saw the old body — the case that matters for its cache.)
      if (store.backend === 'sqlite') expect((await during[0])!.etag).toBe(before.etag);
      for (const read of await Promise.all(during)) expect([before.etag, after.etag]).toContain(read!.etag);
      expect((await store.resources.getJson(id))!.etag).toBe(after.etag);
      for (let i = 0; i < 20; i++) {
        const readers = Array.from({ length: 4 }, () => store.resources.getJson(id));
        const { resource: row } = await store.resources.put(resource(id, MQ, CL1, { round: i }));
        await Promise.all(readers);
        expect((await store.resources.getJson(id))!.etag).toBe(row.etag);
      }
    });

    it('lets exactly one of concurrent puts with the same If-Match win, across replicas', async () => {
      const id = mqId('race');
      const { resource: base } = await store.resources.put(resource(id, MQ, CL1));
      const replica = await open();
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? replica : store).resources.put(resource(id, MQ, CL1, { writer: i }), { ifMatch: base.etag }),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      expect(
        results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof PreconditionFailedError),
      ).toBe(true);
      expect((await store.resources.get(id))!.etag).toBe(won[0]!.value.resource.etag);
    });

    it('lets a watcher following the feed during concurrent writes miss nothing', async () => {
      // Revisions must become visible in order, or a watcher's cursor skips a late-committing one.
      const replica = await open();
      const watcher = await open();
      const start = await watcher.feed.currentRevision();
      const writes = Promise.all(
        [store, replica].map(async (writer, w) => {
          for (let i = 0; i < 15; i++) {
            await Promise.all([0, 1].map((j) => writer.resources.put(resource(mqId(`w${w}-${i}-${j}`), MQ, CL1))));
          }
        }),
      );
      const seen: number[] = [];
      let since = start;
      let done = false;
      const finished = new AbortController(); // wakes a watcher waiting when the last write is in
      void writes.then(() => {
        done = true;
        finished.abort();
      });
      for (;;) {
        const events = await watcher.feed.changesSince([CL1], since, 7);
        seen.push(...events.map((e) => e.revision));
        if (events.length) since = events.at(-1)!.revision;
        else if (done && (await watcher.feed.currentRevision()) <= since) break;
        else await watcher.feed.waitForRevision(since, finished.signal);
      }
      await writes;
      const all = (await watcher.feed.changesSince([CL1], start, 1000)).map((e) => e.revision);
      expect(all).toHaveLength(60);
      expect(seen).toEqual(all);
    });

    it('rolls back every write of a failing transaction', async () => {
      const before = await store.feed.currentRevision();
      await store.operations.create({
        id: 'taken',
        resourceId: mqId('z'),
        kind: 'put',
        expectedEtag: 'e',
        deadline: inAnHour(),
      });
      const failure = store.transaction(async (tx) => {
        await tx.resources.put(resource(mqId('t1'), MQ, CL1));
        await tx.resources.put(resource(`${mqId('t1')}/broker/b`, BROKER));
        expect(await tx.resources.get(mqId('t1'))).toBeDefined(); // a transaction reads its own writes
        expect(await store.resources.get(mqId('t1'))).toBeUndefined(); // others do not, yet
        // A database error half-way: the operation id is taken.
        await tx.operations.create({
          id: 'taken',
          resourceId: mqId('t1'),
          kind: 'put',
          expectedEtag: 'e',
          deadline: inAnHour(),
        });
      });
      await expect(failure).rejects.toThrow();
      await expect(
        store.transaction(async (tx) => {
          await tx.resources.put(resource(mqId('t2'), MQ, CL1));
          throw new Error('application failure');
        }),
      ).rejects.toThrow('application failure');

      expect(await store.resources.get(mqId('t1'))).toBeUndefined();
      expect(await store.resources.get(`${mqId('t1')}/broker/b`)).toBeUndefined();
      expect(await store.resources.get(mqId('t2'))).toBeUndefined();
      expect(await store.feed.changesSince([CL1], before)).toEqual([]);
      // Revisions drawn by rolled-back transactions are never seen.
      expect(await store.feed.currentRevision()).toBe(before);
      const after = await store.resources.put(resource(mqId('t3'), MQ, CL1));
      expect((await store.feed.changesSince([CL1], before)).map((e) => e.revision)).toEqual([after.resource.revision]);
    });

    it('commits several writes of a transaction together', async () => {
      const id = mqId('together');
      const result = await store.transaction(async (tx) => {
        const put = await tx.resources.put(resource(id, MQ, CL1));
        await tx.operations.create({
          id: 'op-t',
          resourceId: id,
          kind: 'put',
          expectedEtag: put.resource.etag,
          deadline: inAnHour(),
        });
        return put.resource.etag;
      });
      expect((await store.operations.get('op-t'))!.expectedEtag).toBe(result);
      await expect(
        store.transaction(async () => store.resources.put(resource(mqId('nested'), MQ, CL1))),
      ).rejects.toBeInstanceOf(StoreUsageError);
    });

    it('wakes waiters on another replica when a write commits', async () => {
      const replica = await open();
      const start = await replica.feed.currentRevision();
      const woken = replica.feed.waitForRevision(start);
      const { resource: row } = await store.resources.put(resource(mqId('wake'), MQ, CL1));
      expect(await woken).toBeGreaterThanOrEqual(row.revision);
      expect((await replica.feed.changesSince([CL1], start)).map((e) => e.id)).toEqual([mqId('wake')]);

      // Already past: resolves at once. Aborted: resolves with undefined.
      expect(await replica.feed.waitForRevision(start)).toBe(row.revision);
      const controller = new AbortController();
      const pending = replica.feed.waitForRevision(row.revision, controller.signal);
      controller.abort();
      expect(await pending).toBeUndefined();
    });
  });
}

// --- SQLite ---------------------------------------------------------------------------------------

let sqliteDir: string;
let sqliteFiles = 0;
beforeAll(() => {
  sqliteDir = mkdtempSync(join(tmpdir(), 'iotmq-sqlite-'));
});
afterAll(() => {
  rmSync(sqliteDir, { recursive: true, force: true });
});

describeStore('SQLite', async () => `sqlite:${join(sqliteDir, `store-${++sqliteFiles}.db`)}`);

describe('read cache (SQLite)', () => {
  it('refuses a fill from a read that began before a write ended', () => {
    const cache = new ReadCache<ResourceJson>();
    const key = 'k';
    const stale = cache.ticket(); // a read starts …
    cache.drop([key]); // … a write to the key commits …
    cache.fill(key, { json: '{"old":true}', etag: 'old' }, stale); // … the read ends with the old row
    expect(cache.get(key)).toBeUndefined();
    cache.fill(key, { json: '{}', etag: 'new' }, cache.ticket());
    expect(cache.get(key)).toEqual({ json: '{}', etag: 'new' });
    cache.drop(['other']);
    expect(cache.get(key)?.etag).toBe('new');
    cache.drop([key]);
    expect(cache.get(key)).toBeUndefined();
  });

  it('belongs to the one process that owns the file: a second process cannot open it', async () => {
    const file = join(sqliteDir, 'owned.db');
    const store = await createStore(`sqlite:${file}`);
    const openElsewhere = () =>
      new Promise<string>((done) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', OPEN_AND_CLOSE], {
          env: { ...process.env, STORE_MODULE: resolve('src/store/sqlite.ts'), DB: file },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.once('exit', () => done(out));
      });
    try {
      expect(await openElsewhere()).toMatch(/is open in another process/);
    } finally {
      await store.close();
    }
    expect(await openElsewhere()).toMatch(/^opened$/m);
  });
});

/** A child process that opens a SQLite store and closes it again. */
const OPEN_AND_CLOSE = `
const { openSqliteStore } = await import(process.env.STORE_MODULE);
try {
  const store = await openSqliteStore(process.env.DB);
  await store.close();
  console.log('opened');
} catch (error) {
  console.log(error.message);
}
`;

describe('Store on SQLite, killed mid-write', () => {
  it('leaves only whole transactions after SIGKILL during a burst of writes', async () => {
    const file = join(sqliteDir, 'crash.db');
    const writer = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CRASH_WRITER], {
      env: { ...process.env, STORE_MODULE: resolve('src/store/sqlite.ts'), DB: file },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((done) => writer.once('exit', (_code, signal) => done(signal)));
    // Kill once enough transactions are committed: the writer is then somewhere inside the next one.
    await new Promise<void>((done, fail) => {
      let out = '';
      writer.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/\b300\b/.test(out)) done();
      });
      writer.once('exit', (code) => fail(new Error(`writer exited early (${code}): ${out}`)));
    });
    writer.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const db = new Database(file);
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const resources = db.prepare('SELECT key, body, revision FROM resources').all() as {
        key: string;
        body: string;
        revision: number;
      }[];
      expect(resources.length).toBeGreaterThanOrEqual(600);
      for (const r of resources) expect(() => JSON.parse(r.body)).not.toThrow();
      // Each transaction wrote an mq, its broker and an operation: all three or none.
      const mqs = resources.filter((r) => !r.key.includes('/broker/'));
      expect(resources.length).toBe(mqs.length * 2);
      const brokerKeys = new Set(resources.filter((r) => r.key.includes('/broker/')).map((r) => r.key));
      for (const mq of mqs) expect(brokerKeys.has(`${mq.key}/broker/default`)).toBe(true);
      const ops = db.prepare('SELECT count(*) AS n FROM operations').get() as { n: number };
      expect(ops.n).toBe(mqs.length);
      // Every feed event has its row at that revision, every row its event, and the counter agrees.
      const orphans = db
        .prepare(
          'SELECT count(*) AS n FROM changes c LEFT JOIN resources r ON r.key = c.key AND r.revision = c.revision WHERE r.key IS NULL',
        )
        .get() as { n: number };
      expect(orphans.n).toBe(0);
      const changes = db.prepare('SELECT count(*) AS n, max(revision) AS max FROM changes').get() as {
        n: number;
        max: number;
      };
      expect(changes.n).toBe(resources.length);
      expect((db.prepare("SELECT value FROM meta WHERE name = 'revision'").get() as { value: number }).value).toBe(
        changes.max,
      );
    } finally {
      db.close();
    }
    // And the store itself opens it and goes on.
    const store = await createStore(`sqlite:${file}`);
    try {
      const next = await store.resources.put(resource(mqId('after-crash'), MQ, CL1));
      expect(next.resource.revision).toBe(await store.feed.currentRevision());
    } finally {
      await store.close();
    }
  });
});

/** The child that writes until killed: big bodies so a kill often lands inside a commit. */
const CRASH_WRITER = `
const { openSqliteStore } = await import(process.env.STORE_MODULE);
const store = await openSqliteStore(process.env.DB);
const base = '/subscriptions/${SUB}/resourceGroups/crash/providers/Microsoft.IoTOperationsMQ/mq/';
const blob = 'x'.repeat(64 * 1024);
for (let i = 1; ; i++) {
  await store.transaction(async (tx) => {
    const id = base + 'm' + i;
    const body = { id, blob, extendedLocation: { name: '${CL1}' } };
    await tx.resources.put({ id, type: '${MQ}', body }, { operation: { id: 'op-' + i, kind: 'put', deadline: '2100-01-01T00:00:00.000Z' } });
    await tx.resources.put({ id: id + '/broker/default', type: '${BROKER}', body: { id: id + '/broker/default', blob } });
  });
  process.stdout.write(i + '\\n');
}
`;

// --- PostgreSQL -----------------------------------------------------------------------------------

describe('PostgreSQL (private server)', () => {
  let peer: PostgresPeer | undefined;
  beforeAll(async () => {
    peer = await startPostgres();
  });
  afterAll(async () => {
    await peer?.stop();
  });
  describeStore('PostgreSQL', () => peer!.createDatabase());
});
