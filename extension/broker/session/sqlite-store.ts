// Durable SessionStore on SQLite (better-sqlite3, WAL).
//
// Why SQLite rather than an append-only log: the access pattern is small random updates and
// deletes (every PUBACK removes one outbox row), which a log would have to compact; SQLite gives
// atomic, crash-safe writes, indexes by client id, and is already the project's embedded store.
// WAL with synchronous=NORMAL survives a process crash (what a broker restart is); a power loss
// may lose the last transactions, the usual trade-off for message brokers.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDatabase } from '../../../src/common/private-files.js';
import { decodeMessage, decodeOutbox, decodeSession, encodeMessage, encodeOutbox, encodeSession } from './codec.js';
import type { PersistedSession, PersistedState, SessionStore } from './session-store.js';
import type { Subscription } from './types.js';

const SCHEMA_VERSION = 1;

export function createSqliteStore(file: string): SessionStore {
  mkdirSync(path.dirname(file), { recursive: true });
  ensurePrivateDatabase(file); // sessions and retained messages: the owner's only
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);

  const st = {
    saveSession: db.prepare(
      'INSERT INTO sessions (client_id, record) VALUES (?, ?) ON CONFLICT(client_id) DO UPDATE SET record = excluded.record',
    ),
    deleteSession: db.prepare('DELETE FROM sessions WHERE client_id = ?'),
    saveSub: db.prepare(
      'INSERT INTO subscriptions (client_id, filter, sub) VALUES (?, ?, ?) ON CONFLICT(client_id, filter) DO UPDATE SET sub = excluded.sub',
    ),
    deleteSub: db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
    saveOutbox: db.prepare(
      'INSERT INTO outbox (client_id, seq, entry) VALUES (?, ?, ?) ON CONFLICT(client_id, seq) DO UPDATE SET entry = excluded.entry',
    ),
    deleteOutbox: db.prepare('DELETE FROM outbox WHERE client_id = ? AND seq = ?'),
    saveQos2: db.prepare('INSERT OR IGNORE INTO incoming_qos2 (client_id, packet_id) VALUES (?, ?)'),
    deleteQos2: db.prepare('DELETE FROM incoming_qos2 WHERE client_id = ? AND packet_id = ?'),
    saveRetained: db.prepare(
      'INSERT INTO retained (topic, message) VALUES (?, ?) ON CONFLICT(topic) DO UPDATE SET message = excluded.message',
    ),
    deleteRetained: db.prepare('DELETE FROM retained WHERE topic = ?'),
  };

  return {
    kind: 'sqlite',
    load(): PersistedState {
      const sessions = new Map<string, PersistedSession>();
      for (const row of db.prepare('SELECT record FROM sessions').all() as Array<{ record: string }>) {
        const record = decodeSession(row.record);
        sessions.set(record.clientId, { ...record, subscriptions: [], outbox: [], incomingQos2: [] });
      }
      for (const row of db.prepare('SELECT client_id, sub FROM subscriptions ORDER BY rowid').all() as Array<{
        client_id: string;
        sub: string;
      }>)
        sessions.get(row.client_id)?.subscriptions.push(JSON.parse(row.sub) as Subscription);
      for (const row of db.prepare('SELECT client_id, entry FROM outbox ORDER BY client_id, seq').all() as Array<{
        client_id: string;
        entry: string;
      }>)
        sessions.get(row.client_id)?.outbox.push(decodeOutbox(row.entry));
      for (const row of db.prepare('SELECT client_id, packet_id FROM incoming_qos2').all() as Array<{
        client_id: string;
        packet_id: number;
      }>)
        sessions.get(row.client_id)?.incomingQos2.push(row.packet_id);
      const retained = (db.prepare('SELECT message FROM retained').all() as Array<{ message: string }>).map((r) =>
        decodeMessage(JSON.parse(r.message)),
      );
      return { sessions: [...sessions.values()], retained };
    },
    saveSession: (r) => void st.saveSession.run(r.clientId, encodeSession(r)),
    // subscriptions, outbox and QoS 2 rows go with the session (ON DELETE CASCADE)
    deleteSession: (clientId) => void st.deleteSession.run(clientId),
    saveSubscription: (clientId, sub) => void st.saveSub.run(clientId, sub.filter, JSON.stringify(sub)),
    deleteSubscription: (clientId, filter) => void st.deleteSub.run(clientId, filter),
    saveOutbox: (clientId, entry) => void st.saveOutbox.run(clientId, entry.seq, encodeOutbox(entry)),
    deleteOutbox: (clientId, seq) => void st.deleteOutbox.run(clientId, seq),
    saveIncomingQos2: (clientId, id) => void st.saveQos2.run(clientId, id),
    deleteIncomingQos2: (clientId, id) => void st.deleteQos2.run(clientId, id),
    saveRetained: (m) => void st.saveRetained.run(m.topic, JSON.stringify(encodeMessage(m))),
    deleteRetained: (topic) => void st.deleteRetained.run(topic),
    close: () => db.close(),
  };
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version !== 0)
    throw new Error(`broker store schema version ${version} is newer than this broker (${SCHEMA_VERSION})`);
  db.exec(`
    CREATE TABLE sessions (client_id TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE subscriptions (
      client_id TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
      filter TEXT NOT NULL, sub TEXT NOT NULL, PRIMARY KEY (client_id, filter));
    CREATE TABLE outbox (
      client_id TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
      seq INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (client_id, seq));
    CREATE TABLE incoming_qos2 (
      client_id TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
      packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id));
    CREATE TABLE retained (topic TEXT PRIMARY KEY, message TEXT NOT NULL);
    PRAGMA user_version = ${SCHEMA_VERSION};
  `);
}
