// An open-loop MQTT fan-in flood on raw sockets, shared by the broker flow-control test and the
// broker benchmark (bench/broker-load.ts): N publishers each write M PUBLISHes as fast as TCP
// takes them (QoS 0: write until the socket pushes back, then wait for 'drain'; QoS 1: a window
// of unacknowledged PUBLISHes per publisher), one subscriber on `<prefix>/#` reads as fast as it
// can. Nothing waits for the subscriber: what the broker cannot keep up with, it has to hold,
// push back on or drop, and the result says which (delivered/sent).
//
// The publishers run in a process of their own, the subscriber in the caller's (or, with
// `floodInChildProcess`, in another one, for a broker in the caller's process): real clients are
// independent, and on one event loop a subscriber that falls behind would hold the publishers
// back itself, and a broker's reads would take turns with its clients'.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';

export interface FloodOptions {
  port: number;
  host?: string;
  qos: 0 | 1;
  publishers: number;
  /** PUBLISHes per publisher. */
  messages: number;
  /** QoS 1: PUBLISHes each publisher keeps unacknowledged. */
  inflight?: number;
  payloadBytes?: number;
  /** Topic prefix; the subscriber takes `<prefix>/#`. */
  prefix?: string;
  /** After the publishers are done (QoS 1: every PUBLISH acknowledged), give up once nothing arrives for this long. */
  idleMs?: number;
  /** Give up after this long in any case. */
  timeoutMs?: number;
  /**
   * How the subscriber acknowledges QoS 1 deliveries: all those of one read in one write
   * (default), or each PUBACK in a write of its own, as MQTT.js and libmosquitto clients do.
   */
  subscriberAcks?: 'per-read' | 'each';
  /** Subscribe over MQTT 5 with this Receive Maximum (QoS 1 in flight towards it); 3.1.1 without. */
  subscriberReceiveMaximum?: number;
}

export interface FloodResult {
  sent: number;
  delivered: number;
  /** From the first PUBLISH written to the last delivery. */
  seconds: number;
  /** Delivered messages per second over `seconds`. */
  rate: number;
}

/** A raw MQTT 3.1.1 connection: complete frames from the broker go to `onFrame`. */
export interface RawMqtt {
  socket: net.Socket;
  protocolVersion: 4 | 5;
  onFrame: (header: number, buf: Buffer, start: number, end: number) => void;
}

let clientSeq = 0;

/** Connect (CONNECT, clean, no keep alive; MQTT 5 with a Receive Maximum if given) and await the CONNACK. */
export async function rawMqtt(
  port: number,
  host = '127.0.0.1',
  clientId?: string,
  receiveMaximum?: number,
): Promise<RawMqtt> {
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  socket.on('error', () => {});
  const conn: RawMqtt = { socket, protocolVersion: receiveMaximum === undefined ? 4 : 5, onFrame: () => {} };
  let pending: Buffer | null = null;
  socket.on('data', (chunk: Buffer) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let i = pos + 1;
      let len = 0;
      let mul = 1;
      let complete = false;
      while (i < buf.length) {
        const b = buf[i++];
        len += (b & 127) * mul;
        mul *= 128;
        if ((b & 128) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + len > buf.length) break;
      conn.onFrame(buf[pos], buf, i, i + len);
      pos = i + len;
    }
    pending = pos < buf.length ? buf.subarray(pos) : null;
  });
  const acked = answered(socket, 'CONNACK', (resolve) => (conn.onFrame = (h) => h >> 4 === 2 && resolve()));
  await once(socket, 'connect');
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: conn.protocolVersion,
      clientId: clientId ?? `flood-${process.pid}-${clientSeq++}`,
      clean: true,
      keepalive: 0,
      ...(receiveMaximum === undefined ? {} : { properties: { receiveMaximum } }),
    }),
  );
  await acked;
  return conn;
}

/** How long a broker may take to answer CONNECT or SUBSCRIBE (one that cannot may say nothing). */
const ANSWER_MS = 10_000;

function answered(socket: net.Socket, what: string, listen: (resolve: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ANSWER_MS} ms`)), ANSWER_MS);
    const closed = (): void => reject(new Error(`closed before ${what}`));
    socket.once('close', closed);
    listen(() => {
      clearTimeout(timer);
      socket.off('close', closed);
      resolve();
    });
  });
}

/** SUBSCRIBE and await the SUBACK; later frames go to `onFrame`. */
export async function rawSubscribe(
  conn: RawMqtt,
  filter: string,
  qos: 0 | 1,
  onFrame: RawMqtt['onFrame'],
): Promise<void> {
  await answered(conn.socket, 'SUBACK', (resolve) => {
    conn.onFrame = (h, ...rest) => {
      if (h >> 4 !== 9) return onFrame(h, ...rest);
      conn.onFrame = onFrame;
      resolve();
    };
    conn.socket.write(
      mqttPacket.generate(
        { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] },
        { protocolVersion: conn.protocolVersion },
      ),
    );
  });
}

export async function destroyAll(conns: RawMqtt[]): Promise<void> {
  await Promise.all(
    conns.map((c) => {
      if (c.socket.destroyed) return undefined;
      const closed = once(c.socket, 'close');
      c.socket.destroy();
      return closed;
    }),
  );
}

/** The packet id of a QoS 1 PUBLISH frame (it follows the topic). */
function packetIdOf(buf: Buffer, start: number): number {
  return buf.readUInt16BE(start + 2 + buf.readUInt16BE(start));
}

/** Frames of one publisher, written in batches: QoS 1 frames get their packet ids patched in. */
class Publisher {
  sent = 0;
  acked = 0;
  private nextId = 1;
  private readonly frame: Buffer;
  private readonly idOffset: number;

  constructor(
    readonly conn: RawMqtt,
    readonly topic: string,
    readonly options: Required<Pick<FloodOptions, 'qos' | 'messages' | 'inflight' | 'payloadBytes'>>,
  ) {
    const { qos, payloadBytes } = options;
    this.frame = mqttPacket.generate({
      cmd: 'publish',
      topic,
      payload: Buffer.alloc(payloadBytes, 'x'),
      qos,
      retain: false,
      dup: false,
      messageId: 1,
    });
    // fixed header (1 + length bytes) + topic length (2) + topic
    this.idOffset = this.frame.length - payloadBytes - 2;
  }

  batch(n: number): Buffer {
    const out = Buffer.allocUnsafe(n * this.frame.length);
    for (let i = 0; i < n; i++) {
      const at = i * this.frame.length;
      this.frame.copy(out, at);
      if (this.options.qos === 1) {
        out.writeUInt16BE(this.nextId, at + this.idOffset);
        this.nextId = (this.nextId % 65535) + 1;
      }
    }
    this.sent += n;
    return out;
  }
}

/** The publishers' side of a flood; resolves to what they wrote once they have written all of it. */
async function publish(options: FloodOptions, started: () => void): Promise<number> {
  const { port, host = '127.0.0.1', qos, publishers, messages } = options;
  const inflight = options.inflight ?? 64;
  const payloadBytes = options.payloadBytes ?? 64;
  const prefix = options.prefix ?? 'bench';
  const BATCH = 128; // QoS 0 frames per write
  const pubs: Publisher[] = [];
  for (let i = 0; i < publishers; i++)
    pubs.push(
      new Publisher(await rawMqtt(port, host), `${prefix}/flood/${i}`, { qos, messages, inflight, payloadBytes }),
    );
  started();
  await Promise.all(
    pubs.map(
      (p) =>
        new Promise<void>((resolve) => {
          const { socket } = p.conn;
          socket.once('close', resolve);
          if (qos === 0) {
            // as fast as TCP takes it: write until the socket pushes back, go on at 'drain'
            const pump = (): void => {
              while (p.sent < messages) {
                const more = socket.write(p.batch(Math.min(BATCH, messages - p.sent)));
                if (p.sent === messages) socket.write(Buffer.alloc(0), () => resolve());
                else if (!more) return void socket.once('drain', pump);
              }
            };
            return pump();
          }
          // QoS 1: the next PUBLISHes as PUBACKs free the window (a broker that loses a PUBACK
          // must not keep us waiting: done once the last one is written)
          const pump = (): void => {
            const n = Math.min(inflight - (p.sent - p.acked), messages - p.sent);
            if (n <= 0) return;
            socket.write(p.batch(n));
            if (p.sent === messages) socket.write(Buffer.alloc(0), () => resolve());
          };
          p.conn.onFrame = (h) => void (h >> 4 === 4 && p.acked++);
          socket.on('data', pump);
          pump();
        }),
    ),
  );
  return pubs.reduce((n, p) => n + p.sent, 0);
}

/**
 * The subscriber here, the publishers in a process of their own (forked), so that a subscriber
 * that falls behind does not slow the publishers down as well, as it would on one event loop.
 */
export async function openLoopFanIn(options: FloodOptions): Promise<FloodResult> {
  const { port, host = '127.0.0.1', qos, publishers, messages } = options;
  const prefix = options.prefix ?? 'bench';
  const idleMs = options.idleMs ?? 1000;
  const total = publishers * messages;

  let delivered = 0;
  let lastDelivery = 0;
  const sub = await rawMqtt(port, host, undefined, options.subscriberReceiveMaximum);
  const pubacks: Buffer[] = [];
  const ackEach = options.subscriberAcks === 'each';
  await rawSubscribe(sub, `${prefix}/#`, qos, (h, buf, start) => {
    if (h >> 4 !== 3) return;
    delivered++;
    lastDelivery = performance.now();
    if (((h >> 1) & 3) === 1) {
      const id = packetIdOf(buf, start);
      const puback = Buffer.from([0x40, 2, id >> 8, id & 255]);
      if (ackEach) sub.socket.write(puback);
      else pubacks.push(puback);
    }
  });
  // or acknowledge every QoS 1 delivery of a read in one write
  sub.socket.on('data', () => pubacks.length > 0 && sub.socket.write(Buffer.concat(pubacks.splice(0))));

  const child = forkSelf();
  let t0 = 0;
  let sent: number | undefined;
  let failure: string | undefined;
  child.on('message', (m: { started?: true; sent?: number; error?: string }) => {
    if (m.started) t0 = performance.now();
    if (m.sent !== undefined) sent = m.sent;
    if (m.error !== undefined) failure = m.error;
  });
  child.on('exit', (code) => (failure ??= sent === undefined ? `publishers exited with ${code}` : undefined));
  child.send({ publish: options });
  // Until every message has arrived, or everything is written and nothing has arrived for idleMs
  // (the rest was dropped), or the deadline.
  const deadline = performance.now() + (options.timeoutMs ?? 120_000);
  await new Promise<void>((resolve) => {
    const check = (): void => {
      const now = performance.now();
      const quiet = sent !== undefined && now - Math.max(lastDelivery, t0) > idleMs;
      if (delivered >= total || quiet || failure !== undefined || now > deadline) resolve();
      else setTimeout(check, 20);
    };
    check();
  });
  if (child.exitCode === null) child.kill();
  await destroyAll([sub]);
  if (failure !== undefined) throw new Error(`flood publishers failed: ${failure}`);
  const seconds = ((lastDelivery || performance.now()) - t0) / 1000;
  return { sent: sent ?? NaN, delivered, seconds, rate: delivered / seconds };
}

/** This module in a child process under tsx (as the tests run), talking over IPC. */
function forkSelf() {
  return fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/**
 * openLoopFanIn with its subscriber in a child process too: for a broker in the caller's process
 * (a test), whose reads would otherwise take turns with the subscriber's on one event loop.
 */
export async function floodInChildProcess(options: FloodOptions): Promise<FloodResult> {
  const child = forkSelf();
  try {
    child.send({ flood: options });
    const [reply] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => Promise.reject(new Error(`flood process exited with ${code}`))),
    ])) as [{ result?: FloodResult; error?: string }];
    if (reply.error !== undefined) throw new Error(`flood failed: ${reply.error}`);
    return reply.result!;
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const reply = (m: object, code: number): void => void process.send!(m, () => code >= 0 && process.exit(code));
  process.once('message', (m: { flood?: FloodOptions; publish?: FloodOptions }) => {
    if (m.flood)
      openLoopFanIn(m.flood).then(
        (result) => reply({ result }, 0),
        (err: unknown) => reply({ error: String(err) }, 1),
      );
    else if (m.publish)
      publish(m.publish, () => reply({ started: true }, -1)).then(
        (sent) => reply({ sent }, -1), // stays up (its sockets open) until the subscriber is done
        (err: unknown) => reply({ error: String(err) }, 1),
      );
  });
  process.on('disconnect', () => process.exit(0));
}
