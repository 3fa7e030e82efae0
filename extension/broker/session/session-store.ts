// Persistence behind the session back end. The back end keeps its working state in memory and
// writes every change through this interface, so a durable store only has to record and replay;
// the in-memory store is the same contract without a disk (clean-only deployments, tests).
import type { Message, OutboxEntry, SessionRecord, Subscription } from './types.js';

export interface PersistedSession extends SessionRecord {
  subscriptions: Subscription[];
  /** Ordered by seq. */
  outbox: OutboxEntry[];
  /** Packet ids of QoS 2 PUBLISHes received and not yet released by PUBREL. */
  incomingQos2: number[];
}

export interface PersistedState {
  sessions: PersistedSession[];
  retained: Message[];
}

export interface SessionStore {
  readonly kind: 'memory' | 'sqlite';
  load(): PersistedState;
  saveSession(record: SessionRecord): void;
  /** Removes the session with its subscriptions, outbox and QoS 2 state. */
  deleteSession(clientId: string): void;
  saveSubscription(clientId: string, subscription: Subscription): void;
  deleteSubscription(clientId: string, filter: string): void;
  saveOutbox(clientId: string, entry: OutboxEntry): void;
  deleteOutbox(clientId: string, seq: number): void;
  saveIncomingQos2(clientId: string, packetId: number): void;
  deleteIncomingQos2(clientId: string, packetId: number): void;
  saveRetained(message: Message): void;
  deleteRetained(topic: string): void;
  close(): void;
}
