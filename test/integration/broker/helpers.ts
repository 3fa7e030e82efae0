// Shared helpers for the broker integration tests: a broker core behind a real TCP server on
// 127.0.0.1 port 0, MQTT.js clients, and a raw-socket client for byte-level cases.
import { once } from 'node:events';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach } from 'vitest';
import { createBroker, type Broker, type BrokerOptions } from '../../../extension/broker/broker.js';
import { listenPlainTcp, type PlainTcpTransport } from '../../../extension/broker/listeners/listener.js';
import type { Connection } from '../../../extension/broker/protocol/connection.js';

export interface TestBroker {
  broker: Broker;
  /** Every connection the listener accepted, in order. */
  connections: Connection[];
  port: number;
  url: string;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];

/** Every server and client made through these helpers is torn down after each test. */
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/**
 * A broker core behind a plain TCP listener on 127.0.0.1, port 0: on libuv handles as the product
 * runs it, or on net.Server (`transport: 'net'`, the fallback) when a test asks for it.
 */
export async function startTestBroker(
  options: BrokerOptions = {},
  listener = 'listener',
  transport?: PlainTcpTransport,
): Promise<TestBroker> {
  const broker = createBroker({ sysInterval: 0, ...options });
  const connections: Connection[] = [];
  const accept = broker.accept;
  broker.accept = (t, info) => {
    const conn = accept(t, info);
    connections.push(conn);
    return conn;
  };
  const server = await listenPlainTcp(broker, listener, '127.0.0.1', 0, transport);
  const { port } = server;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await broker.close();
    await server.close();
  };
  onCleanup(close);
  return { broker, connections, port, url: `mqtt://127.0.0.1:${port}`, close };
}

/** A connected MQTT.js client (rejects on a refused CONNACK). */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  onCleanup(() => closeClient(client));
  collect(client); // start recording before CONNACK: queued messages follow it immediately
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return client;
}

/** Connect expecting a refusal; resolves to the error MQTT.js reports (with its code). */
export async function connectRefused(url: string, options: IClientOptions = {}): Promise<Error & { code?: number }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  onCleanup(() => closeClient(client));
  return new Promise((resolve, reject) => {
    client.once('connect', () => reject(new Error('unexpectedly connected')));
    client.once('error', (err) => resolve(err as Error & { code?: number }));
  });
}

export async function closeClient(client: MqttClient): Promise<void> {
  if (client.disconnected || !client.connected) {
    client.end(true);
    return;
  }
  await client.endAsync();
}

export interface Received {
  topic: string;
  payload: Buffer;
  packet: mqttPacket.IPublishPacket;
}

/** Collect messages; `next()` awaits the next one (or fails after a timeout). */
export interface Collector {
  messages: Received[];
  next(timeoutMs?: number): Promise<Received>;
}

const collectors = new WeakMap<MqttClient, Collector>();

export function collect(client: MqttClient): Collector {
  const existing = collectors.get(client);
  if (existing) return existing;
  const messages: Received[] = [];
  const waiters: Array<(m: Received) => void> = [];
  let read = 0;
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload, packet };
    messages.push(m);
    const w = waiters.shift();
    if (w) {
      read++;
      w(m);
    }
  });
  const collector: Collector = {
    messages,
    next(timeoutMs = 3000) {
      if (read < messages.length) return Promise.resolve(messages[read++]);
      return new Promise((resolve, reject) => {
        const waiter = (m: Received): void => {
          clearTimeout(t);
          resolve(m);
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error('no message arrived'));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
  };
  collectors.set(client, collector);
  return collector;
}

/**
 * Proof that nothing (more) arrives: a round trip through the broker on a probe topic. Messages
 * to one client are delivered in order, so once the probe is back, anything routed before it is in.
 */
export async function flush(client: MqttClient, seen: Collector): Promise<void> {
  const topic = `probe/${Math.random().toString(36).slice(2)}`;
  await client.subscribeAsync(topic, { qos: 1 });
  await client.publishAsync(topic, 'probe', { qos: 1 });
  // earlier messages stay in `messages`; we only wait for the probe to come back
  while ((await seen.next()).topic !== topic);
  await client.unsubscribeAsync(topic);
}

/** A raw TCP client speaking mqtt-packet, for byte-level protocol cases. */
export interface RawClient {
  socket: net.Socket;
  send(packet: Packet | Buffer): void;
  /** Next packet from the broker, or 'closed' if the connection ends first. */
  next(timeoutMs?: number): Promise<Packet | 'closed'>;
  closed: Promise<void>;
}

export async function rawConnect(port: number, protocolVersion: 3 | 4 | 5 = 4): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  onCleanup(() => void socket.destroy());
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: Packet[] = [];
  const waiters: Array<(p: Packet | 'closed') => void> = [];
  let ended = false;
  parser.on('packet', (p: Packet) => {
    const w = waiters.shift();
    if (w) w(p);
    else packets.push(p);
  });
  socket.on('data', (d) => parser.parse(d));
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      ended = true;
      while (waiters.length > 0) waiters.shift()!('closed');
      resolve();
    }),
  );
  socket.on('error', () => {});
  return {
    socket,
    closed,
    send(packet) {
      if (socket.destroyed) return;
      socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet, { protocolVersion }));
    },
    next(timeoutMs = 3000) {
      if (packets.length > 0) return Promise.resolve(packets.shift()!);
      if (ended) return Promise.resolve('closed');
      return new Promise((resolve, reject) => {
        const waiter = (p: Packet | 'closed'): void => {
          clearTimeout(t);
          resolve(p);
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error('no packet from broker'));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
  };
}
