// SessionStore without a disk. Values are deep-copied in and out so callers can never share
// mutable state with the store (the durable store behaves the same way by construction).
import type { PersistedSession, PersistedState, SessionStore } from './session-store.js';
import type { Message, OutboxEntry, SessionRecord, Subscription } from './types.js';

interface Row {
  record: SessionRecord;
  subscriptions: Map<string, Subscription>;
  outbox: Map<number, OutboxEntry>;
  incomingQos2: Set<number>;
}

export function createMemoryStore(): SessionStore {
  const sessions = new Map<string, Row>();
  const retained = new Map<string, Message>();
  const row = (clientId: string): Row | undefined => sessions.get(clientId);

  return {
    kind: 'memory',
    load(): PersistedState {
      const out: PersistedSession[] = [];
      for (const r of sessions.values()) {
        out.push({
          ...copyRecord(r.record),
          subscriptions: [...r.subscriptions.values()].map((s) => structuredClone(s)),
          outbox: [...r.outbox.values()].sort((a, b) => a.seq - b.seq).map(copyEntry),
          incomingQos2: [...r.incomingQos2],
        });
      }
      return { sessions: out, retained: [...retained.values()].map(copyMessage) };
    },
    saveSession(record) {
      const existing = row(record.clientId);
      if (existing) existing.record = copyRecord(record);
      else
        sessions.set(record.clientId, {
          record: copyRecord(record),
          subscriptions: new Map(),
          outbox: new Map(),
          incomingQos2: new Set(),
        });
    },
    deleteSession(clientId) {
      sessions.delete(clientId);
    },
    saveSubscription(clientId, subscription) {
      row(clientId)?.subscriptions.set(subscription.filter, structuredClone(subscription));
    },
    deleteSubscription(clientId, filter) {
      row(clientId)?.subscriptions.delete(filter);
    },
    saveOutbox(clientId, entry) {
      row(clientId)?.outbox.set(entry.seq, copyEntry(entry));
    },
    deleteOutbox(clientId, seq) {
      row(clientId)?.outbox.delete(seq);
    },
    saveIncomingQos2(clientId, packetId) {
      row(clientId)?.incomingQos2.add(packetId);
    },
    deleteIncomingQos2(clientId, packetId) {
      row(clientId)?.incomingQos2.delete(packetId);
    },
    saveRetained(message) {
      retained.set(message.topic, copyMessage(message));
    },
    deleteRetained(topic) {
      retained.delete(topic);
    },
    close() {},
  };
}

function copyMessage(m: Message): Message {
  return {
    ...structuredClone({ ...m, payload: undefined, properties: { ...m.properties, correlationData: undefined } }),
    payload: Buffer.from(m.payload),
    properties: copyProps(m.properties),
  } as Message;
}

function copyProps(p: Message['properties']): Message['properties'] {
  const { correlationData, ...rest } = p;
  return { ...structuredClone(rest), ...(correlationData ? { correlationData: Buffer.from(correlationData) } : {}) };
}

function copyEntry(e: OutboxEntry): OutboxEntry {
  return { ...e, subscriptionIdentifiers: [...e.subscriptionIdentifiers], message: copyMessage(e.message) };
}

function copyRecord(r: SessionRecord): SessionRecord {
  return {
    ...r,
    will: r.will ? { delayInterval: r.will.delayInterval, message: copyMessage(r.will.message) } : undefined,
  };
}
