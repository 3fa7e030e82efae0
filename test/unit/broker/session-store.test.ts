// One suite, two SessionStore implementations (memory, SQLite): the same contract, and the same
// back-end behaviour across a "restart" (a new back end over the reopened store).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../extension/broker/session/memory-store.js';
import { createSessionBackend, type SessionLink } from '../../../extension/broker/session/session-backend.js';
import type { SessionStore } from '../../../extension/broker/session/session-store.js';
import { createSqliteStore } from '../../../extension/broker/session/sqlite-store.js';
import type { Delivery, Message } from '../../../extension/broker/session/types.js';

interface Impl {
  name: string;
  open(): SessionStore;
  /** The same data after a process restart. */
  reopen(previous: SessionStore): SessionStore;
}

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

const impls: Impl[] = [
  { name: 'memory', open: () => createMemoryStore(), reopen: (s) => s },
  {
    name: 'sqlite',
    open() {
      const dir = mkdtempSync(path.join(tmpdir(), 'iotmq-store-'));
      dirs.push(dir);
      const file = path.join(dir, 'broker.db');
      const store = createSqliteStore(file);
      (store as SessionStore & { file?: string }).file = file;
      return store;
    },
    reopen(previous) {
      previous.close();
      const file = (previous as SessionStore & { file?: string }).file!;
      const store = createSqliteStore(file);
      (store as SessionStore & { file?: string }).file = file;
      return store;
    },
  },
];

const msg = (topic: string, payload: string, extra: Partial<Message> = {}): Message => ({
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  properties: { userProperties: { k: 'v' }, correlationData: Buffer.from('c') },
  ...extra,
});

function link(id = 'conn'): SessionLink & { got: Delivery[] } {
  const got: Delivery[] = [];
  return { connectionId: id, got, deliver: (d) => got.push(d), close: () => {} };
}

describe.each(impls)('SessionStore: $name', (impl) => {
  it('stores and loads sessions, subscriptions, outbox, QoS 2 ids and retained messages', () => {
    const store = impl.open();
    store.saveSession({ clientId: 'a', expiryInterval: 60, will: { message: msg('w', 'bye'), delayInterval: 5 } });
    store.saveSubscription('a', {
      filter: 'x/#',
      qos: 1,
      noLocal: false,
      retainAsPublished: true,
      retainHandling: 1,
      subscriptionIdentifier: 7,
    });
    store.saveOutbox('a', {
      seq: 2,
      message: msg('x/1', 'two'),
      qos: 1,
      retain: false,
      subscriptionIdentifiers: [7],
      state: 'queued',
    });
    store.saveOutbox('a', {
      seq: 1,
      message: msg('x/1', 'one'),
      qos: 2,
      retain: false,
      subscriptionIdentifiers: [],
      packetId: 9,
      state: 'released',
    });
    store.saveIncomingQos2('a', 42);
    store.saveRetained(msg('r', 'kept', { retain: true }));
    const loaded = impl.reopen(store).load();
    expect(loaded.sessions).toHaveLength(1);
    const s = loaded.sessions[0];
    expect(s.will?.message.payload.toString()).toBe('bye');
    expect(s.subscriptions).toEqual([
      { filter: 'x/#', qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 1, subscriptionIdentifier: 7 },
    ]);
    expect(s.outbox.map((e) => [e.seq, e.message.payload.toString(), e.state])).toEqual([
      [1, 'one', 'released'],
      [2, 'two', 'queued'],
    ]);
    expect(s.outbox[0].message.properties.correlationData).toEqual(Buffer.from('c'));
    expect(s.incomingQos2).toEqual([42]);
    expect(loaded.retained.map((m) => m.payload.toString())).toEqual(['kept']);
  });

  it('deletes individually and cascades a session delete', () => {
    const store = impl.open();
    store.saveSession({ clientId: 'a', expiryInterval: 60 });
    store.saveSubscription('a', { filter: 'x', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    store.saveOutbox('a', {
      seq: 1,
      message: msg('x', '1'),
      qos: 1,
      retain: false,
      subscriptionIdentifiers: [],
      state: 'queued',
    });
    store.deleteOutbox('a', 1);
    store.deleteSubscription('a', 'x');
    store.saveRetained(msg('r', 'x'));
    store.deleteRetained('r');
    let loaded = impl.reopen(store).load();
    expect(loaded.sessions[0]).toMatchObject({ subscriptions: [], outbox: [] });
    expect(loaded.retained).toEqual([]);
    const again = impl.reopen(store);
    again.saveSubscription('a', { filter: 'y', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    again.deleteSession('a');
    loaded = impl.reopen(again).load();
    expect(loaded.sessions).toEqual([]);
  });

  it('back end: a persistent session keeps subscriptions, queued and in-flight messages across a restart', async () => {
    let store = impl.open();
    let backend = createSessionBackend({ store });
    const first = link('c1');
    await backend.connect({ clientId: 'sub', cleanStart: true, expiryInterval: 3600, receiveMaximum: 1 }, first);
    await backend.subscribe('sub', [
      { filter: 'q/+', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    ]);
    await backend.publish(msg('q/1', 'one'));
    await backend.publish(msg('q/2', 'two', { qos: 2 }));
    expect(first.got).toHaveLength(1); // receive maximum 1: 'two' waits in the queue
    await backend.receiveQos2('sub', 5, msg('elsewhere', 'x', { qos: 2 }));
    await backend.disconnect('sub', 'c1', { publishWill: false });
    await backend.close();

    store = impl.reopen(store);
    backend = createSessionBackend({ store });
    const second = link('c2');
    const { sessionPresent } = await backend.connect(
      { clientId: 'sub', cleanStart: false, expiryInterval: 3600, receiveMaximum: 10 },
      second,
    );
    expect(sessionPresent).toBe(true);
    // in flight first (re-sent with DUP), then the queue
    expect(second.got.map((d) => d.kind === 'publish' && [d.message.payload.toString(), d.dup])).toEqual([
      ['one', true],
      ['two', false],
    ]);
    // the QoS 2 packet id survived: a re-sent PUBLISH is a duplicate, PUBREL releases it
    expect((await backend.receiveQos2('sub', 5, msg('elsewhere', 'x', { qos: 2 }))).duplicate).toBe(true);
    expect(await backend.releaseQos2('sub', 5)).toBe(true);
    // subscriptions too
    await backend.publish(msg('q/3', 'three'));
    expect(second.got).toHaveLength(3);
    await backend.close();
  });

  it('back end: retained messages survive a restart; a clean session leaves nothing behind', async () => {
    let store = impl.open();
    let backend = createSessionBackend({ store });
    await backend.publish(msg('r/1', 'kept', { retain: true }));
    await backend.connect({ clientId: 'tmp', cleanStart: true, expiryInterval: 0, receiveMaximum: 10 }, link());
    await backend.subscribe('tmp', [
      { filter: '#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    ]);
    await backend.close();
    store = impl.reopen(store);
    const loaded = store.load();
    expect(loaded.sessions).toEqual([]);
    backend = createSessionBackend({ store });
    const l = link('c');
    await backend.connect({ clientId: 'n', cleanStart: true, expiryInterval: 0, receiveMaximum: 10 }, l);
    await backend.subscribe('n', [
      { filter: 'r/+', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
    ]);
    expect(l.got).toMatchObject([{ kind: 'publish', retain: true, message: { topic: 'r/1' } }]);
    await backend.close();
  });
});
