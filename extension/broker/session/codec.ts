// JSON form of session data for the durable store (Buffers as base64).
import type { Message, OutboxEntry, SessionRecord } from './types.js';

interface EncodedMessage extends Omit<Message, 'payload' | 'properties'> {
  payload: string;
  properties: Omit<Message['properties'], 'correlationData'> & { correlationData?: string };
}

export function encodeMessage(m: Message): EncodedMessage {
  const { correlationData, ...props } = m.properties;
  return {
    ...m,
    payload: m.payload.toString('base64'),
    properties: { ...props, ...(correlationData ? { correlationData: correlationData.toString('base64') } : {}) },
  };
}

export function decodeMessage(e: EncodedMessage): Message {
  const { correlationData, ...props } = e.properties;
  return {
    ...e,
    payload: Buffer.from(e.payload, 'base64'),
    properties: { ...props, ...(correlationData ? { correlationData: Buffer.from(correlationData, 'base64') } : {}) },
  };
}

export function encodeOutbox(e: OutboxEntry): string {
  return JSON.stringify({ ...e, message: encodeMessage(e.message) });
}

export function decodeOutbox(json: string): OutboxEntry {
  const raw = JSON.parse(json) as Omit<OutboxEntry, 'message'> & { message: EncodedMessage };
  return { ...raw, message: decodeMessage(raw.message) };
}

export function encodeSession(r: SessionRecord): string {
  return JSON.stringify({ ...r, will: r.will ? { ...r.will, message: encodeMessage(r.will.message) } : undefined });
}

export function decodeSession(json: string): SessionRecord {
  const raw = JSON.parse(json) as Omit<SessionRecord, 'will'> & {
    will?: { delayInterval: number; message: EncodedMessage };
  };
  return { ...raw, will: raw.will ? { ...raw.will, message: decodeMessage(raw.will.message) } : undefined };
}
