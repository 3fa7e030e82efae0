// What a client without credentials can cost the broker, on every listener type (TCP, TLS,
// WebSocket, secure WebSocket): a CONNECT may announce at most the unauthenticated packet limit
// (64 KiB by default; larger is refused from its header, v5 with CONNACK 0x95), a WebSocket
// message before authentication is bounded the same way, and a socket that never completes its
// TLS handshake or WebSocket upgrade is closed after the CONNECT timeout, as a plain TCP socket
// that sends no CONNECT is. Real sockets against a broker started from its config file.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import type { RunningBroker } from '../../../extension/broker/main.js';
import { collect, connectClient, connectRefused, onCleanup } from './helpers.js';
import { createConfigDir, listener, portOf, startFromConfig, startWithHeldAuth } from './config-fixture.js';

type Kind = 'tcp' | 'tls' | 'ws' | 'wss';
const KINDS: Kind[] = ['tcp', 'tls', 'ws', 'wss'];
const CONNECT_TIMEOUT_S = 1;
const AUTOMATIC_TLS = { automatic: { issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: 'x' } } };

async function startAllListeners(connectTimeout = CONNECT_TIMEOUT_S): Promise<{ running: RunningBroker; ca: Buffer }> {
  const dir = createConfigDir();
  const running = await startFromConfig(
    dir.config({
      listeners: [
        listener('tcp'),
        listener('tls', { tls: AUTOMATIC_TLS }),
        listener('ws', { protocol: 'websockets' }),
        listener('wss', { protocol: 'websockets', tls: AUTOMATIC_TLS }),
      ],
    }),
    { limits: { connectTimeout } },
  );
  return { running, ca: readFileSync(running.listeners.get('tls')!.caFile!) };
}

interface Opened {
  stream: Duplex;
  /** Packets the broker sent (for the protocol version given to open). */
  packets: Packet[];
  /** When the connection ended (for WebSocket: the WebSocket, whatever its stream still holds). */
  closed: Promise<number>;
}

/** A connection to a listener as a client of that kind opens it (WebSocket: upgraded, subprotocol mqtt). */
async function open(kind: Kind, port: number, ca: Buffer, version: 4 | 5 = 5): Promise<Opened> {
  let stream: Duplex;
  let closed: Promise<number>;
  if (kind === 'tcp' || kind === 'tls') {
    stream =
      kind === 'tcp'
        ? net.connect(port, '127.0.0.1')
        : tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost' });
    closed = new Promise((resolve) => stream.once('close', () => resolve(Date.now())));
  } else {
    const ws = new WebSocket(`${kind}://localhost:${port}/mqtt`, 'mqtt', { ca });
    ws.on('error', () => {});
    closed = new Promise((resolve) => ws.once('close', () => resolve(Date.now())));
    await once(ws, 'open');
    stream = createWebSocketStream(ws);
  }
  stream.on('error', () => {});
  onCleanup(() => void stream.destroy());
  if (kind === 'tcp') await once(stream, 'connect');
  if (kind === 'tls') await once(stream, 'secureConnect');
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  stream.on('data', (d: Buffer) => parser.parse(d));
  return { stream, packets, closed };
}

/** The first bytes of a CONNECT that announces `remaining` bytes in all. */
function connectHeader(version: 4 | 5, remaining: number): Buffer {
  const length: number[] = [];
  let n = remaining;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  // protocol name, level, flags (user name + password), keep alive, (v5: no properties)
  return Buffer.from([0x10, ...length, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, version, 0xc2, 0x00, 0x3c]);
}

describe.each(KINDS)('before authentication, over %s', (kind) => {
  it.each([5, 4] as const)(
    'a CONNECT announcing 60 MiB is refused from its header (protocol %i), nothing of it is kept',
    async (version) => {
      // a CONNECT timeout far beyond the test's: only the refusal can end the connection
      const { running, ca } = await startAllListeners(60);
      const { stream, packets, closed } = await open(kind, portOf(running, kind), ca, version);
      const sent = Date.now();
      stream.write(connectHeader(version, 60 * 1024 * 1024));
      // streaming the body on: the broker must not wait for it (the old limit was 64 MiB)
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const streaming = setInterval(() => stream.writable && stream.write(chunk), 5);
      onCleanup(() => clearInterval(streaming));
      const at = await closed;
      clearInterval(streaming);
      // refused from the header (the close follows the broker's 1 s grace for its last bytes)
      expect(at - sent).toBeLessThan(5000);
      expect(packets).toEqual(version === 5 ? [expect.objectContaining({ cmd: 'connack', reasonCode: 0x95 })] : []);
      expect(running.broker.connectionCount()).toBe(0);
    },
  );

  it('a CONNECT within the limit is served, and a packet larger than the limit after CONNACK is too', async () => {
    const { running, ca } = await startAllListeners();
    const url = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' }[kind];
    const host = kind === 'tcp' || kind === 'ws' ? '127.0.0.1' : 'localhost';
    const target = `${url}://${host}:${portOf(running, kind)}${kind.startsWith('ws') ? '/mqtt' : ''}`;
    // a will of 32 KiB: a CONNECT of some 32 KiB
    const client = await connectClient(target, {
      ca,
      protocolVersion: 5,
      will: { topic: 'will/big', payload: Buffer.alloc(32 * 1024, 0x77), qos: 0, retain: false },
    });
    const got = collect(client);
    await client.subscribeAsync('big/+', { qos: 1 });
    // 1 MiB: beyond the unauthenticated limit, within the broker's packet limit
    await client.publishAsync('big/1', Buffer.alloc(1024 * 1024, 0x62), { qos: 1 });
    expect((await got.next(10_000)).payload.length).toBe(1024 * 1024);
  });
});

it('a 1 MiB PUBLISH sent right behind the CONNECT (before CONNACK) waits for authentication and is served', async () => {
  const { running } = await startAllListeners();
  const sub = await connectClient(`mqtt://127.0.0.1:${portOf(running, 'tcp')}`);
  const got = collect(sub);
  await sub.subscribeAsync('pipelined', { qos: 1 });
  const { stream, packets } = await open('tcp', portOf(running, 'tcp'), Buffer.alloc(0), 4);
  stream.write(
    Buffer.concat([
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: 'pipe',
        clean: true,
        keepalive: 60,
      }),
      mqttPacket.generate({
        cmd: 'publish',
        topic: 'pipelined',
        payload: Buffer.alloc(1024 * 1024, 0x70),
        qos: 1,
        retain: false,
        dup: false,
        messageId: 9,
      }),
    ]),
  );
  expect((await got.next(10_000)).payload.length).toBe(1024 * 1024);
  await expect.poll(() => packets.map((p) => p.cmd)).toEqual(['connack', 'puback']);
});

it('packets pipelined behind a CONNECT are not read while its credentials are checked', async () => {
  const { auth, running } = await startWithHeldAuth('held', { limits: { connectTimeout: 60 } });
  const port = portOf(running, 'l');
  const sub = await connectClient(`mqtt://127.0.0.1:${port}`, { username: 'sub' });
  const got = collect(sub);
  await sub.subscribeAsync('piped', { qos: 0 });
  const { stream } = await open('tcp', port, Buffer.alloc(0), 4);
  stream.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'piped',
      clean: true,
      keepalive: 60,
      username: 'held',
    }),
  );
  await auth.asked('held');
  // 40 MiB of PUBLISH behind it: while the check is pending the broker must not take them in
  const publish = mqttPacket.generate({
    cmd: 'publish',
    topic: 'piped',
    payload: Buffer.alloc(60 * 1024, 0x70),
    qos: 0,
    retain: false,
    dup: false,
  });
  const count = Math.ceil((40 * 1024 * 1024) / publish.length);
  let flushed = false;
  stream.write(Buffer.concat(Array.from({ length: count }, () => publish)), () => (flushed = true));
  const rssHeld = process.memoryUsage().arrayBuffers;
  // bounded look: the kernel's buffers take a few MiB, the broker nothing more
  for (const until = Date.now() + 1500; Date.now() < until;) {
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toBe(false);
  }
  expect(process.memoryUsage().arrayBuffers - rssHeld).toBeLessThan(16 * 1024 * 1024);
  // once authenticated, all of it is read and delivered
  auth.release();
  for (let i = 0; i < count; i++) await got.next(10_000);
  expect(flushed).toBe(true);
}, 60_000);

it('maxConnectPacketBytes in the config file sets the limit: a CONNECT the default admits is refused below it, and admitted again once a reload restores the default', async () => {
  const dir = createConfigDir();
  const running = await startFromConfig(dir.config({ listeners: [listener('l')], maxConnectPacketBytes: 1024 }));
  const url = `mqtt://127.0.0.1:${portOf(running, 'l')}`;
  // a CONNECT of some 4 KiB: far within the default 64 KiB
  const withWill = (clientId: string) => ({
    clientId,
    protocolVersion: 5 as const,
    will: { topic: 'will/4k', payload: Buffer.alloc(4 * 1024, 0x77), qos: 0 as const, retain: false },
  });
  expect((await connectRefused(url, withWill('big'))).code).toBe(0x95); // Packet too large
  await connectClient(url, { clientId: 'small', protocolVersion: 5 }); // a small one still goes in
  await running.reload(dir.config({ listeners: [listener('l')] }));
  await connectClient(url, withWill('big'));
});

describe.each(['ws', 'wss'] as const)('%s: WebSocket messages before authentication', (kind) => {
  it('a message announcing 60 MiB is refused from its frame header', async () => {
    const { running, ca } = await startAllListeners();
    const ws = new WebSocket(`${kind}://localhost:${portOf(running, kind)}/mqtt`, 'mqtt', { ca });
    ws.on('error', () => {});
    await once(ws, 'open');
    const closed = once(ws, 'close') as Promise<[number]>;
    // a binary frame header announcing 60 MiB (64-bit length), masked as a client's must be, and
    // the start of its payload: the broker must not collect the rest
    const raw = (ws as unknown as { _socket: net.Socket })._socket;
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(60 * 1024 * 1024), 2);
    raw.write(Buffer.concat([header, Buffer.alloc(64 * 1024)]));
    const [code] = await closed;
    expect(code).toBe(1009); // Message Too Big
  });
});

describe.each(['tls', 'ws', 'wss'] as const)('%s: a socket that never becomes an MQTT connection', (kind) => {
  it('is closed after the CONNECT timeout, as on plain TCP', async () => {
    const { running } = await startAllListeners();
    const socket = net.connect(portOf(running, kind), '127.0.0.1');
    socket.on('error', () => {});
    onCleanup(() => void socket.destroy());
    await once(socket, 'connect');
    const opened = Date.now();
    if (kind === 'ws') socket.write('GET /mqtt HTTP/1.1\r\nHost: x\r\n'); // an upgrade that never ends
    await once(socket, 'close');
    const open = Date.now() - opened;
    expect(open).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_S * 1000 - 100);
    expect(open).toBeLessThan(CONNECT_TIMEOUT_S * 1000 + 2000);
  });
});

it('resource exhaustion before authentication: oversized CONNECTs and silent sockets on every listener at once leave nothing behind', async () => {
  const { running, ca } = await startAllListeners();
  const rssBefore = process.memoryUsage().rss;
  const attackers = await Promise.all(
    KINDS.flatMap((kind) =>
      Array.from({ length: 10 }, async (_, i) => {
        const port = portOf(running, kind);
        if (i % 2 === 0 && kind !== 'tcp') {
          // silent: never a handshake or upgrade
          const s = net.connect(port, '127.0.0.1');
          s.on('error', () => {});
          onCleanup(() => void s.destroy());
          return { kind, done: new Promise<void>((resolve) => s.once('close', () => resolve())) };
        }
        const { stream, closed: done } = await open(kind, port, ca);
        stream.write(connectHeader(5, 60 * 1024 * 1024));
        stream.write(Buffer.alloc(256 * 1024, 0x61));
        return { kind, done };
      }),
    ),
  );
  await Promise.all(attackers.map((a) => a.done));
  expect(running.broker.connectionCount()).toBe(0);
  // 40 sockets that each announced 60 MiB: had any been buffered, this would be gigabytes
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
  // and every listener still serves
  for (const kind of KINDS) {
    const url = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' }[kind];
    await connectClient(`${url}://localhost:${portOf(running, kind)}${kind.startsWith('ws') ? '/mqtt' : ''}`, { ca });
  }
});
