// The state side of the broker: sessions, subscriptions, routing, retained messages, in-flight
// QoS 1/2 state, queues of offline persistent sessions, wills and session expiry.
//
// The connection side reaches it only through `SessionBackend` (async, plain data) and receives
// deliveries through the `SessionLink` it registers at connect, so that a network can later sit
// between the two (docs/design.md, "The broker"). Working state lives in memory; every change to a
// persistent session (expiry > 0) and to retained messages is written through a SessionStore.
import { componentLogger } from '../../../src/common/log.js';
import { Fifo } from './fifo.js';
import type { SessionStore } from './session-store.js';
import { parseSharedFilter, topicMatches } from './topic-filter.js';
import { createTopicTrie } from './topic-trie.js';
import {
  SESSION_NEVER_EXPIRES,
  type Delivery,
  type Message,
  type OutboxEntry,
  type QoS,
  type SessionRecord,
  type Subscription,
  type WillMessage,
} from './types.js';

/** The back end's handle on a live connection (implemented by the front end). */
export interface SessionLink {
  readonly connectionId: string;
  deliver(delivery: Delivery): void;
  /**
   * A message was queued for it behind more than the queue's high-water mark (its Receive
   * Maximum is in flight): whoever published it should wait (backpressure), as for a socket that
   * does not take its output.
   */
  backlogged?(): void;
  /** Its queue is back below the low-water mark: publishers held for it may go on. */
  caughtUp?(): void;
  /** Close the connection with this reason (session takeover: 0x8E). */
  close(reasonCode: number): void;
}

export interface ConnectRequest {
  clientId: string;
  cleanStart: boolean;
  expiryInterval: number;
  /** The client's Receive Maximum: QoS 1/2 PUBLISHes in flight towards it [MQTT-3.3.4-7]. */
  receiveMaximum: number;
  will?: WillMessage;
}

export interface DisconnectRequest {
  /** Publish the will (abnormal close, DISCONNECT 0x04, protocol error). */
  publishWill: boolean;
  /** Updated Session Expiry Interval from a v5 DISCONNECT. */
  expiryInterval?: number;
}

export interface SubscribeResult {
  /** A subscription with this filter already existed (retain handling 1) [MQTT-3.3.1-10]. */
  existed: boolean;
}

export interface BackendStats {
  sessions: number;
  connectedSessions: number;
  subscriptions: number;
  retainedMessages: number;
  queuedMessages: number;
  inflightMessages: number;
}

export interface SessionBackend {
  connect(request: ConnectRequest, link: SessionLink): Promise<{ sessionPresent: boolean }>;
  disconnect(clientId: string, connectionId: string, request: DisconnectRequest): Promise<void>;
  /** Route an application message; resolves to the number of sessions it was routed to. */
  publish(message: Message): Promise<number>;
  subscribe(clientId: string, subscriptions: Subscription[]): Promise<SubscribeResult[]>;
  unsubscribe(clientId: string, filters: string[]): Promise<boolean[]>;
  subscriptions(clientId: string): Promise<Subscription[]>;
  /** PUBACK / PUBREC / PUBCOMP from the client for a message we sent; false when the packet id is unknown. */
  acknowledge(
    clientId: string,
    packetId: number,
    kind: 'puback' | 'pubrec' | 'pubcomp',
    failed?: boolean,
  ): Promise<boolean>;
  /**
   * First sight of an incoming QoS 2 PUBLISH: remember the packet id and route the message.
   * Method B of [MQTT-4.3.3-*]: delivered onwards at once, duplicates ignored until PUBREL.
   */
  receiveQos2(clientId: string, packetId: number, message: Message): Promise<{ duplicate: boolean; routed: number }>;
  /** PUBREL: forget the packet id; false when it was unknown. */
  releaseQos2(clientId: string, packetId: number): Promise<boolean>;
  /** Change the queue limit (config reload): sessions already past it lose only new messages. */
  setMaxQueuedMessages(limit: number): void;
  stats(): BackendStats;
  close(): Promise<void>;
}

export interface SessionBackendOptions {
  store: SessionStore;
  /** Queued QoS 1/2 messages per session (offline, or with its Receive Maximum in flight) before new ones are dropped. */
  maxQueuedMessages?: number;
  now?: () => number;
  onDropped?: (reason: 'expired' | 'queue-full' | 'offline-qos0') => void;
}

/**
 * One session. A connected clean session with no subscriptions and nothing in flight (the idle
 * case) is this object and its entry in `sessions`; the collections, the offline state and the
 * will exist only while there is something in them.
 */
class Session {
  link: SessionLink | undefined = undefined;
  will: WillMessage | undefined = undefined;
  subscriptions: Map<string, Subscription> | undefined = undefined;
  outbox: Outbox | undefined = undefined;
  /** Packet ids of QoS 2 PUBLISHes received and not yet released by PUBREL. */
  incomingQos2: Set<number> | undefined = undefined;
  offline: Offline | undefined = undefined;

  constructor(
    readonly clientId: string,
    /** Seconds; 0xFFFFFFFF = never expires [MQTT-3.1.2-11 ff.]. */
    public expiryInterval: number,
    /** The client's Receive Maximum: QoS 1/2 PUBLISHes in flight towards it [MQTT-3.3.4-7]. */
    public receiveMaximum: number,
  ) {}

  /** What the store keeps of it. */
  get record(): SessionRecord {
    return {
      clientId: this.clientId,
      expiryInterval: this.expiryInterval,
      will: this.will,
      disconnectedAt: this.offline?.since,
    };
  }
}

/** QoS 1/2 messages owed to a session: waiting for flow control, and in flight. */
interface Outbox {
  queue: Fifo<OutboxEntry>;
  /** The queue went past the high-water mark and has not come back below the low one. */
  backlogged: boolean;
  inflight: Map<number, OutboxEntry>;
  nextPacketId: number;
}

/** A session without a connection: since when, and what is waiting to happen to it. */
interface Offline {
  /** ms since epoch of the disconnect. */
  since: number;
  willTimer?: NodeJS.Timeout;
  expiryTimer?: NodeJS.Timeout;
}

interface TrieValue {
  clientId: string;
  group?: string;
  subscription: Subscription;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Queued QoS 1/2 messages per session when the options set no limit. */
export const DEFAULT_MAX_QUEUED_MESSAGES = 100_000;
/** Messages queued for a connected session beyond which its publishers wait (at most half the queue limit). */
const QUEUE_HIGH_WATER = 1000;
/** Deliveries without subscription identifiers share this one (never written to). */
const NO_IDENTIFIERS = Object.freeze([]) as unknown as number[];

type PerSession = Map<string, { qos: QoS; retain: boolean; ids: number[] }>;

/** One more matching subscription of a session: the delivery takes the highest QoS and every identifier. */
function addDelivery(perSession: PerSession, v: TrieValue, message: Message): void {
  // (module level, not a closure in route(): one function object less per routed message)
  const sub = v.subscription;
  const e = perSession.get(v.clientId) ?? { qos: 0 as QoS, retain: false, ids: [] };
  e.qos = Math.max(e.qos, Math.min(sub.qos, message.qos)) as QoS;
  // retain-as-published keeps the flag, otherwise forwarded messages carry 0 [MQTT-3.3.1-12, MQTT-3.3.1-13]
  e.retain ||= sub.retainAsPublished && message.retain;
  if (sub.subscriptionIdentifier !== undefined) e.ids.push(sub.subscriptionIdentifier);
  perSession.set(v.clientId, e);
}

export function createSessionBackend(options: SessionBackendOptions): SessionBackend {
  const { store } = options;
  const now = options.now ?? Date.now;
  const log = componentLogger('broker-session');
  const sessions = new Map<string, Session>();
  const trie = createTopicTrie<TrieValue>();
  const retained = new Map<string, Message>();
  const sharedCursor = new Map<string, number>();
  let seq = 1;
  let closed = false;

  const persistent = (s: Session): boolean => s.expiryInterval > 0;
  // Publishers wait while a connected session's queue is past this many messages (front end's
  // backpressure), and go on once it is back at half of it; below the queue limit so that a
  // subscriber that is merely busy never loses anything.
  let maxQueued = 0;
  let queueHighWater = 0;
  let queueLowWater = 0;
  const setMaxQueuedMessages = (limit: number): void => {
    maxQueued = limit;
    queueHighWater = Math.max(1, Math.min(QUEUE_HIGH_WATER, Math.floor(limit / 2)));
    queueLowWater = Math.floor(queueHighWater / 2);
  };
  setMaxQueuedMessages(options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES);
  const outboxOf = (s: Session): Outbox =>
    (s.outbox ??= { queue: new Fifo(), backlogged: false, inflight: new Map(), nextPacketId: 1 });
  const trieKey = (clientId: string, group?: string): string => `${group ?? ''}\u0000${clientId}`;

  // ---- recovery -------------------------------------------------------------------------
  const state = store.load();
  for (const m of state.retained) retained.set(m.topic, m);
  for (const p of state.sessions) {
    const { subscriptions, outbox, incomingQos2, ...record } = p;
    const s = new Session(record.clientId, record.expiryInterval, 65535);
    s.will = record.will;
    if (incomingQos2.length > 0) s.incomingQos2 = new Set(incomingQos2);
    sessions.set(record.clientId, s);
    for (const sub of subscriptions) addToIndex(s, sub);
    for (const e of outbox) {
      seq = Math.max(seq, e.seq + 1);
      const o = outboxOf(s);
      if (e.packetId !== undefined) {
        o.inflight.set(e.packetId, e);
        o.nextPacketId = Math.max(o.nextPacketId, (e.packetId % 65535) + 1);
      } else o.queue.push(e);
    }
    // Every session is offline after a restart; a session connected when the broker stopped
    // was closed abnormally, so its will is due (after its delay) and its expiry clock runs.
    const offline: Offline = (s.offline = { since: record.disconnectedAt ?? now() });
    if (record.disconnectedAt === undefined) store.saveSession(s.record);
    if (s.will) scheduleWill(s, offline);
    scheduleExpiry(s, offline, s.expiryInterval * 1000 - (now() - offline.since));
  }
  if (state.sessions.length > 0) log.info({ sessions: state.sessions.length, retained: retained.size }, 'recovered');

  // ---- helpers --------------------------------------------------------------------------
  function addToIndex(s: Session, sub: Subscription): void {
    const shared = parseSharedFilter(sub.filter);
    (s.subscriptions ??= new Map()).set(sub.filter, sub);
    trie.add(shared ? shared.filter : sub.filter, trieKey(s.clientId, shared?.group), {
      clientId: s.clientId,
      group: shared?.group,
      subscription: sub,
    });
  }

  function removeFromIndex(s: Session, filter: string): boolean {
    if (!s.subscriptions?.delete(filter)) return false;
    if (s.subscriptions.size === 0) s.subscriptions = undefined;
    const shared = parseSharedFilter(filter);
    trie.remove(shared ? shared.filter : filter, trieKey(s.clientId, shared?.group));
    return true;
  }

  function clearTimers(s: Session): void {
    clearTimeout(s.offline?.willTimer);
    clearTimeout(s.offline?.expiryTimer);
  }

  function endSession(s: Session): void {
    clearTimers(s);
    if (s.will) publishWillNow(s);
    for (const filter of [...(s.subscriptions?.keys() ?? [])]) removeFromIndex(s, filter);
    sessions.delete(s.clientId);
    store.deleteSession(s.clientId);
  }

  function publishWillNow(s: Session): void {
    const will = s.will;
    if (!will) return;
    if (s.offline) {
      clearTimeout(s.offline.willTimer);
      s.offline.willTimer = undefined;
    }
    s.will = undefined;
    if (persistent(s) && sessions.get(s.clientId) === s) store.saveSession(s.record);
    const expiresAt = will.messageExpiryInterval !== undefined ? now() + will.messageExpiryInterval * 1000 : undefined;
    route({ ...will.message, expiresAt });
  }

  /** Of an offline session: the will waits for its delay or the end of the session, whichever is first [MQTT-3.1.3-9]. */
  function scheduleWill(s: Session, offline: Offline): void {
    const delay = Math.min(s.will!.delayInterval, s.expiryInterval);
    if (delay <= 0) return publishWillNow(s);
    clearTimeout(offline.willTimer);
    offline.willTimer = setTimeout(() => publishWillNow(s), Math.min(delay * 1000, MAX_TIMER_MS));
    offline.willTimer.unref();
  }

  function scheduleExpiry(s: Session, offline: Offline, remainingMs: number): void {
    clearTimeout(offline.expiryTimer);
    if (s.expiryInterval === SESSION_NEVER_EXPIRES) return;
    if (remainingMs <= 0) return endSession(s);
    offline.expiryTimer = setTimeout(() => endSession(s), Math.min(remainingMs, MAX_TIMER_MS));
    offline.expiryTimer.unref();
  }

  function remainingExpiry(m: Message): number | undefined | null {
    if (m.expiresAt === undefined) return undefined;
    const left = Math.ceil((m.expiresAt - now()) / 1000);
    return left > 0 ? left : null; // null = expired
  }

  function allocatePacketId(o: Outbox): number {
    for (let i = 0; i < 65535; i++) {
      const id = o.nextPacketId;
      o.nextPacketId = (id % 65535) + 1;
      if (!o.inflight.has(id)) return id;
    }
    throw new Error('no free packet identifier'); // unreachable: receive maximum ≤ 65535
  }

  /** Move queued messages into flight while the client's Receive Maximum allows [MQTT-3.3.4-9]. */
  function pump(s: Session): void {
    const o = s.outbox;
    if (!o) return;
    while (s.link && o.inflight.size < s.receiveMaximum && o.queue.length > 0) {
      const entry = o.queue.shift()!;
      const left = remainingExpiry(entry.message);
      if (left === null) {
        // expired while queued: dropped, never delivered [MQTT-3.3.2-5]
        if (persistent(s)) store.deleteOutbox(s.clientId, entry.seq);
        options.onDropped?.('expired');
        continue;
      }
      entry.packetId = allocatePacketId(o);
      entry.state = 'sent';
      o.inflight.set(entry.packetId, entry);
      if (persistent(s)) store.saveOutbox(s.clientId, entry);
      s.link.deliver(publishDelivery(entry, false, left));
    }
    if (o.backlogged && o.queue.length <= queueLowWater) {
      o.backlogged = false;
      s.link?.caughtUp?.();
    }
    if (o.inflight.size === 0 && o.queue.length === 0 && s.outbox === o) s.outbox = undefined;
  }

  function publishDelivery(entry: OutboxEntry, dup: boolean, left: number | undefined): Delivery {
    return {
      kind: 'publish',
      message: entry.message,
      qos: entry.qos,
      retain: entry.retain,
      dup,
      packetId: entry.packetId,
      subscriptionIdentifiers: entry.subscriptionIdentifiers,
      messageExpiryInterval: left,
    };
  }

  function deliverTo(s: Session, message: Message, qos: QoS, retain: boolean, subscriptionIdentifiers: number[]): void {
    if (qos === 0) {
      const left = remainingExpiry(message);
      if (left === null) return options.onDropped?.('expired');
      // QoS 0 is not queued for offline sessions (the product's later behaviour; the spec allows either)
      if (!s.link) return options.onDropped?.('offline-qos0');
      s.link.deliver({
        kind: 'publish',
        message,
        qos: 0,
        retain,
        dup: false,
        subscriptionIdentifiers,
        messageExpiryInterval: left,
      });
      return;
    }
    // Offline or not acknowledging (its Receive Maximum in flight): the queue is bounded either way
    const o = outboxOf(s);
    if (o.queue.length >= maxQueued) return options.onDropped?.('queue-full');
    const entry: OutboxEntry = { seq: seq++, message, qos, retain, subscriptionIdentifiers, state: 'queued' };
    o.queue.push(entry);
    if (persistent(s)) store.saveOutbox(s.clientId, entry);
    pump(s);
    if (o.queue.length > queueHighWater && s.link) {
      o.backlogged = true;
      s.link.backlogged?.();
    }
  }

  function route(message: Message): number {
    if (message.retain) {
      // A retained message with an empty payload removes the retained message [MQTT-3.3.1-6]
      if (message.payload.length === 0) {
        if (retained.delete(message.topic)) store.deleteRetained(message.topic);
      } else {
        retained.set(message.topic, message);
        store.saveRetained(message);
      }
    }
    const matches = trie.match(message.topic);
    if (matches.length === 1 && matches[0].group === undefined) {
      // the common case, one subscriber: no bookkeeping per session
      const { clientId, subscription: sub } = matches[0];
      // no-local: never back to the publishing connection's session [MQTT-3.8.3-3]
      if (sub.noLocal && message.origin === clientId) return 0;
      const s = sessions.get(clientId);
      if (s)
        deliverTo(
          s,
          message,
          Math.min(sub.qos, message.qos) as QoS,
          sub.retainAsPublished && message.retain,
          sub.subscriptionIdentifier !== undefined ? [sub.subscriptionIdentifier] : NO_IDENTIFIERS,
        );
      return 1;
    }
    // One delivery per session however many of its subscriptions overlap, at the highest QoS,
    // carrying every matching subscription identifier [MQTT-3.3.4-2, MQTT-3.3.4-3].
    const perSession: PerSession = new Map();
    let sharedGroups: Map<string, TrieValue[]> | undefined; // made only when a shared subscription matches
    for (const v of matches) {
      if (v.group !== undefined) {
        const key = `${v.group}\u0000${parseSharedFilter(v.subscription.filter)!.filter}`;
        sharedGroups ??= new Map();
        (sharedGroups.get(key) ?? sharedGroups.set(key, []).get(key)!).push(v);
        continue;
      }
      // no-local: never back to the publishing connection's session [MQTT-3.8.3-3]
      if (v.subscription.noLocal && message.origin === v.clientId) continue;
      addDelivery(perSession, v, message);
    }
    // Shared subscriptions: one member per group, round-robin, preferring connected members [MQTT-4.8.2-*]
    for (const [key, members] of sharedGroups ?? []) {
      members.sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
      const online = members.filter((m) => sessions.get(m.clientId)?.link);
      const pool = online.length > 0 ? online : members;
      const cursor = sharedCursor.get(key) ?? 0;
      sharedCursor.set(key, cursor + 1);
      addDelivery(perSession, pool[cursor % pool.length], message);
    }
    for (const [clientId, e] of perSession) {
      const s = sessions.get(clientId);
      if (s) deliverTo(s, message, e.qos, e.retain, e.ids);
    }
    return perSession.size;
  }

  function sendRetained(s: Session, sub: Subscription): void {
    for (const m of retained.values()) {
      if (!topicMatches(sub.filter, m.topic)) continue;
      if (remainingExpiry(m) === null) {
        retained.delete(m.topic);
        store.deleteRetained(m.topic);
        continue;
      }
      const ids = sub.subscriptionIdentifier !== undefined ? [sub.subscriptionIdentifier] : [];
      // Retained messages sent because of a new subscription carry retain=1 [MQTT-3.3.1-9 (v5: 3.3.1.3)]
      deliverTo(s, m, Math.min(sub.qos, m.qos) as QoS, true, ids);
    }
  }

  function requireSession(clientId: string): Session {
    const s = sessions.get(clientId);
    if (!s) throw new Error(`no session for client ${clientId}`);
    return s;
  }

  // ---- the interface --------------------------------------------------------------------
  return {
    async connect(req, link) {
      if (closed) throw new Error('session back end is closed');
      let s = sessions.get(req.clientId);
      if (s?.link) {
        // Session takeover [MQTT-3.1.4-3]: the old connection is closed with 0x8E. Its will goes
        // out now unless the session continues and the will is delayed [MQTT-3.1.3-9].
        const old = s.link;
        s.link = undefined;
        if (s.will && (req.cleanStart || s.will.delayInterval === 0)) publishWillNow(s);
        old.close(0x8e);
      }
      if (s && req.cleanStart) {
        endSession(s); // publishes a pending delayed will: the session ends now
        s = undefined;
      }
      const sessionPresent = s !== undefined;
      if (s) {
        // Reconnected before the will delay passed: the will is not sent [MQTT-3.1.3-9]
        clearTimers(s);
        if (req.expiryInterval === 0 && persistent(s)) store.deleteSession(req.clientId);
      } else {
        s = new Session(req.clientId, req.expiryInterval, req.receiveMaximum);
        sessions.set(req.clientId, s);
      }
      const wasPersistent = persistent(s);
      s.offline = undefined;
      s.expiryInterval = req.expiryInterval;
      s.will = req.will;
      s.receiveMaximum = req.receiveMaximum;
      s.link = link;
      if (persistent(s)) {
        store.saveSession(s.record);
        if (!wasPersistent) {
          for (const sub of s.subscriptions?.values() ?? []) store.saveSubscription(req.clientId, sub);
          for (const e of [...(s.outbox?.inflight.values() ?? []), ...(s.outbox?.queue ?? [])])
            store.saveOutbox(req.clientId, e);
        }
      }
      // Resend unacknowledged PUBLISH (DUP=1) and PUBREL in their original order [MQTT-4.4.0-1]
      for (const e of [...(s.outbox?.inflight.values() ?? [])].sort((a, b) => a.seq - b.seq)) {
        if (e.state === 'released') link.deliver({ kind: 'pubrel', packetId: e.packetId! });
        else link.deliver(publishDelivery(e, true, remainingExpiry(e.message) ?? undefined));
      }
      pump(s);
      return { sessionPresent };
    },

    async disconnect(clientId, connectionId, req) {
      const s = sessions.get(clientId);
      if (!s || s.link?.connectionId !== connectionId) return; // already taken over
      s.link = undefined;
      if (req.expiryInterval !== undefined) s.expiryInterval = req.expiryInterval;
      const offline: Offline = (s.offline = { since: now() });
      if (!req.publishWill) s.will = undefined; // normal DISCONNECT discards the will [MQTT-3.1.2-10]
      if (s.expiryInterval === 0) return endSession(s);
      store.saveSession(s.record);
      if (s.will) scheduleWill(s, offline);
      scheduleExpiry(s, offline, s.expiryInterval * 1000);
    },

    async publish(message) {
      return route(message);
    },

    async subscribe(clientId, subs) {
      const s = requireSession(clientId);
      return subs.map((sub) => {
        const existed = s.subscriptions?.has(sub.filter) ?? false;
        if (existed) removeFromIndex(s, sub.filter); // replaced, not duplicated [MQTT-3.8.4-3]
        addToIndex(s, sub);
        if (persistent(s)) store.saveSubscription(clientId, sub);
        // Retain handling 0: always, 1: only for a new subscription, 2: never; never for shared [MQTT-3.3.1-9..11]
        const shared = parseSharedFilter(sub.filter) !== null;
        if (!shared && (sub.retainHandling === 0 || (sub.retainHandling === 1 && !existed))) sendRetained(s, sub);
        return { existed };
      });
    },

    async unsubscribe(clientId, filters) {
      const s = requireSession(clientId);
      return filters.map((f) => {
        const removed = removeFromIndex(s, f);
        if (removed && persistent(s)) store.deleteSubscription(clientId, f);
        return removed;
      });
    },

    async subscriptions(clientId) {
      return [...(sessions.get(clientId)?.subscriptions?.values() ?? [])];
    },

    async acknowledge(clientId, packetId, kind, failed = false) {
      const s = sessions.get(clientId);
      const e = s?.outbox?.inflight.get(packetId);
      if (!s?.outbox || !e) return false;
      const expected =
        kind === 'puback'
          ? e.qos === 1
          : kind === 'pubrec'
            ? e.qos === 2 && e.state === 'sent'
            : e.state === 'released';
      if (!expected) return kind === 'pubrec' && e.state === 'released'; // a repeated PUBREC is answered again
      if (kind === 'pubrec' && !failed) {
        e.state = 'released';
        if (persistent(s)) store.saveOutbox(clientId, e);
        return true;
      }
      // PUBACK, PUBCOMP, or a PUBREC with an error reason: the exchange is complete [MQTT-4.3.3-*]
      s.outbox.inflight.delete(packetId);
      if (persistent(s)) store.deleteOutbox(clientId, e.seq);
      pump(s);
      return true;
    },

    async receiveQos2(clientId, packetId, message) {
      const s = requireSession(clientId);
      if (s.incomingQos2?.has(packetId)) return { duplicate: true, routed: 0 };
      (s.incomingQos2 ??= new Set()).add(packetId);
      if (persistent(s)) store.saveIncomingQos2(clientId, packetId);
      return { duplicate: false, routed: route(message) };
    },

    async releaseQos2(clientId, packetId) {
      const s = sessions.get(clientId);
      if (!s?.incomingQos2?.delete(packetId)) return false;
      if (s.incomingQos2.size === 0) s.incomingQos2 = undefined;
      if (persistent(s)) store.deleteIncomingQos2(clientId, packetId);
      return true;
    },

    setMaxQueuedMessages,
    stats() {
      let connected = 0;
      let queued = 0;
      let inflight = 0;
      for (const s of sessions.values()) {
        if (s.link) connected++;
        queued += s.outbox?.queue.length ?? 0;
        inflight += s.outbox?.inflight.size ?? 0;
      }
      return {
        sessions: sessions.size,
        connectedSessions: connected,
        subscriptions: trie.size,
        retainedMessages: retained.size,
        queuedMessages: queued,
        inflightMessages: inflight,
      };
    },

    async close() {
      closed = true;
      for (const s of sessions.values()) clearTimers(s);
      store.close();
    },
  };
}
