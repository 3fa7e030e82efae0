// An open-loop MQTT fan-in flood on raw sockets, shared by the broker flow-control test and the
// broker benchmark (bench/broker-load.ts): N publishers each write M PUBLISHes as fast as TCP
// takes them (QoS 0: write until the socket pushes back, then wait for 'drain'; QoS 1: a window
// of unacknowledged PUBLISHes per publisher), one subscriber on `<prefix>/#` reads as fast as it
// can. Nothing waits for the subscriber: what the broker cannot keep up with, it has to hold,
// push back on or drop, and the result says which (delivered/sent).
//
// `floodInChildProcess` runs it in a process of its own, as real clients are: in the process of
// an in-process broker, the clients' reads would take turns with the broker's on one event loop
// and the subscriber could never fall behind.
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
  onFrame: (header: number, buf: Buffer, start: number, end: number) => void;
}

let clientSeq = 0;

/** Connect (CONNECT, clean, no keep alive) and await the CONNACK. */
export async function rawMqtt(port: number, host = '127.0.0.1', clientId?: string): Promise<RawMqtt> {
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  socket.on('error', () => {});
  const conn: RawMqtt = { socket, onFrame: () => {} };
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
  const acked = new Promise<void>((resolve, reject) => {
    conn.onFrame = (h) => h >> 4 === 2 && resolve();
    socket.once('close', () => reject(new Error('closed before CONNACK')));
  });
  await once(socket, 'connect');
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: clientId ?? `flood-${process.pid}-${clientSeq++}`,
      clean: true,
      keepalive: 0,
    }),
  );
  await acked;
  return conn;
}

/** SUBSCRIBE and await the SUBACK; later frames go to `onFrame`. */
export async function rawSubscribe(
  conn: RawMqtt,
  filter: string,
  qos: 0 | 1,
  onFrame: RawMqtt['onFrame'],
): Promise<void> {
  await new Promise<void>((resolve) => {
    conn.onFrame = (h, ...rest) => {
      if (h >> 4 !== 9) return onFrame(h, ...rest);
      conn.onFrame = onFrame;
      resolve();
    };
    conn.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] }));
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

  get done(): boolean {
    return this.sent === this.options.messages && (this.options.qos === 0 || this.acked === this.sent);
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

export async function openLoopFanIn(options: FloodOptions): Promise<FloodResult> {
  const { port, host = '127.0.0.1', qos, publishers, messages } = options;
  const inflight = options.inflight ?? 64;
  const payloadBytes = options.payloadBytes ?? 64;
  const prefix = options.prefix ?? 'bench';
  const idleMs = options.idleMs ?? 1000;
  const total = publishers * messages;
  const BATCH = 128; // QoS 0 frames per write

  let delivered = 0;
  let lastDelivery = 0;
  const sub = await rawMqtt(port, host);
  const pubacks: Buffer[] = [];
  await rawSubscribe(sub, `${prefix}/#`, qos, (h, buf, start) => {
    if (h >> 4 !== 3) return;
    delivered++;
    lastDelivery = performance.now();
    if (((h >> 1) & 3) === 1) {
      const id = packetIdOf(buf, start);
      pubacks.push(Buffer.from([0x40, 2, id >> 8, id & 255]));
    }
  });
  // acknowledge every QoS 1 delivery after each read, in one write
  sub.socket.on('data', () => pubacks.length > 0 && sub.socket.write(Buffer.concat(pubacks.splice(0))));

  const pubs: Publisher[] = [];
  for (let i = 0; i < publishers; i++)
    pubs.push(
      new Publisher(await rawMqtt(port, host), `${prefix}/flood/${i}`, { qos, messages, inflight, payloadBytes }),
    );

  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  let doneCount = 0;
  const markDone = (): void => void (++doneCount === publishers && finished());

  const t0 = performance.now();
  for (const p of pubs) {
    const { socket } = p.conn;
    if (qos === 0) {
      // as fast as TCP takes it: write until the socket pushes back, go on at 'drain'
      const pump = (): void => {
        while (p.sent < messages) {
          const more = socket.write(p.batch(Math.min(BATCH, messages - p.sent)));
          if (p.sent === messages) return void socket.write(Buffer.alloc(0), markDone);
          if (!more) return void socket.once('drain', pump);
        }
      };
      pump();
    } else {
      const pump = (): void => {
        const n = Math.min(inflight - (p.sent - p.acked), messages - p.sent);
        if (n > 0) socket.write(p.batch(n));
      };
      p.conn.onFrame = (h) => {
        if (h >> 4 !== 4) return;
        p.acked++;
        if (p.done) markDone();
      };
      socket.on('data', pump);
      pump();
    }
  }

  const deadline = t0 + (options.timeoutMs ?? 120_000);
  await Promise.race([allDone, new Promise((r) => setTimeout(r, Math.max(0, deadline - performance.now())))]);
  // the publishers are done: wait for the rest to arrive, or for nothing more to arrive
  while (delivered < total && performance.now() < deadline) {
    const quietFor = performance.now() - Math.max(lastDelivery, t0);
    if (quietFor > idleMs && doneCount === publishers) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = ((lastDelivery || performance.now()) - t0) / 1000;
  const sent = pubs.reduce((n, p) => n + p.sent, 0);
  await destroyAll([sub, ...pubs.map((p) => p.conn)]);
  return { sent, delivered, seconds, rate: delivered / seconds };
}

/** openLoopFanIn in a child process (under tsx, like the tests), answered over IPC. */
export async function floodInChildProcess(options: FloodOptions): Promise<FloodResult> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    child.send(options);
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
  process.once('message', (options: FloodOptions) => {
    openLoopFanIn(options).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (err: unknown) => process.send!({ error: String(err) }, () => process.exit(1)),
    );
  });
}
