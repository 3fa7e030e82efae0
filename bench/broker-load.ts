// The broker benchmark's load generator, in its own process (forked by bench/broker.ts) so it does
// not share a core with the broker under test. Raw sockets with pre-encoded frames and a frame
// scanner instead of a full client (test/support/mqtt-flood.ts), so the client side is not the
// bottleneck; MQTT.js only for the latency probe. The closed-loop runs are bounded by a window of
// messages in flight (the broker never buffers an unbounded backlog) and by their duration; the
// open-loop fan-in (the same flood as the flow-control test) by its message count. Every run
// closes all its sockets before it answers.
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { destroyAll, openLoopFanIn, rawMqtt, rawSubscribe, type RawMqtt } from '../test/support/mqtt-flood.js';

export type Scenario =
  | { kind: 'fan-in'; port: number; qos: 0 | 1; publishers: number; seconds: number }
  | {
      kind: 'open-loop';
      port: number;
      qos: 0 | 1;
      publishers: number;
      messages: number;
      inflight: number;
      subscriberReceiveMaximum?: number;
    }
  | { kind: 'fan-out'; port: number; subscribers: number; seconds: number }
  | { kind: 'latency'; port: number; rate: number; seconds: number }
  | { kind: 'idle'; port: number; connections: number };

export interface Result {
  /** messages delivered to subscribers per second (throughput scenarios) */
  rate?: number;
  /** open loop: messages published and delivered */
  sent?: number;
  delivered?: number;
  p50?: number;
  p99?: number;
  /** idle connections held open */
  connected?: number;
}

const PAYLOAD = Buffer.alloc(64, 'x');
const WARMUP_MS = 500;

type Conn = RawMqtt;

async function connect(port: number, onFrame: Conn['onFrame'] = () => {}): Promise<Conn> {
  const conn = await rawMqtt(port);
  conn.onFrame = onFrame;
  return conn;
}

const subscribe = rawSubscribe;
const closeAll = destroyAll;

function publishFrame(topic: string, qos: 0 | 1, messageId = 1): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic, payload: PAYLOAD, qos, retain: false, dup: false, messageId });
}

/** Count deliveries over `seconds` after a warm-up, driving `pump` whenever deliveries come in. */
async function measure(seconds: number, delivered: () => number, start: () => void): Promise<number> {
  start();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const from = delivered();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n = delivered() - from;
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function fanIn(port: number, qos: 0 | 1, publishers: number, seconds: number): Promise<Result> {
  const WINDOW = 2000; // messages between publishers and the subscriber (more overflows aedes' stack)
  const PER_PUBLISHER = qos === 1 ? 100 : Infinity; // unacknowledged QoS 1 PUBLISHes per publisher
  const BATCH = 20; // frames per write
  let sent = 0;
  let received = 0;
  let running = true;
  const pubs: Array<Conn & { unacked: number; nextId: number }> = [];
  const frame0 = publishFrame('bench/in/t', 0);
  const pump = (): void => {
    if (!running) return;
    let progress = true;
    while (progress && sent - received < WINDOW) {
      progress = false;
      for (const p of pubs) {
        const n = Math.min(BATCH, WINDOW - (sent - received), PER_PUBLISHER - p.unacked);
        if (n <= 0) continue;
        const frames: Buffer[] = [];
        for (let i = 0; i < n; i++) {
          if (qos === 0) frames.push(frame0);
          else {
            frames.push(publishFrame('bench/in/t', 1, p.nextId));
            p.nextId = (p.nextId % 65535) + 1;
          }
        }
        p.unacked += qos === 1 ? n : 0;
        sent += n;
        p.socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
        progress = true;
      }
    }
  };
  const sub = await connect(port);
  const pubacks: Buffer[] = [];
  await subscribe(sub, 'bench/in/#', qos, (h, buf, start) => {
    if (h >> 4 !== 3) return;
    received++;
    if (((h >> 1) & 3) === 1) {
      // PUBACK the delivery: its packet id follows the topic
      const topicLen = buf.readUInt16BE(start);
      const id = buf.readUInt16BE(start + 2 + topicLen);
      pubacks.push(Buffer.from([0x40, 2, id >> 8, id & 255]));
    }
  });
  sub.socket.on('data', () => {
    if (pubacks.length > 0) sub.socket.write(Buffer.concat(pubacks.splice(0)));
    pump();
  });
  for (let i = 0; i < publishers; i++) {
    const p = Object.assign(await connect(port), { unacked: 0, nextId: 1 });
    p.onFrame = (h) => {
      if (h >> 4 === 4) p.unacked--;
    };
    p.socket.on('data', pump);
    pubs.push(p);
  }
  const rate = await measure(seconds, () => received, pump);
  running = false;
  await closeAll([sub, ...pubs]);
  return { rate };
}

async function fanOut(port: number, subscribers: number, seconds: number): Promise<Result> {
  const WINDOW = 1000; // messages the slowest subscriber may lag behind
  let sent = 0;
  let received = 0;
  let running = true;
  const frame = publishFrame('bench/out/t', 0);
  const batch = Buffer.concat(Array.from({ length: 10 }, () => frame));
  const pub = await connect(port);
  const pump = (): void => {
    while (running && sent * subscribers - received < WINDOW * subscribers) {
      pub.socket.write(batch);
      sent += 10;
    }
  };
  const subs: Conn[] = [];
  for (let i = 0; i < subscribers; i++) {
    const s = await connect(port);
    await subscribe(s, 'bench/out/#', 0, (h) => h >> 4 === 3 && received++);
    s.socket.on('data', pump);
    subs.push(s);
  }
  const rate = await measure(seconds, () => received, pump);
  running = false;
  await closeAll([pub, ...subs]);
  return { rate };
}

async function latency(port: number, rate: number, seconds: number): Promise<Result> {
  const url = `mqtt://127.0.0.1:${port}`;
  const options = { reconnectPeriod: 0, protocolVersion: 4 as const };
  const sub = await mqtt.connectAsync(url, options);
  const pub = await mqtt.connectAsync(url, options);
  let failed: Error | undefined;
  for (const c of [sub, pub]) c.on('error', (err) => (failed ??= err));
  await sub.subscribeAsync('bench/lat', { qos: 0 });
  const samples: number[] = [];
  const total = rate * seconds;
  const warmup = Math.floor(rate / 2); // the first half second (connections and JIT warming up) is not counted
  let arrived = 0;
  let sentN = 0;
  const done = new Promise<void>((resolve) => {
    sub.on('message', (_t, payload) => {
      const ms = Number(process.hrtime.bigint() - payload.readBigUInt64BE(0)) / 1e6;
      if (++arrived > warmup) samples.push(ms);
      if (arrived === total) resolve();
    });
  });
  // a fixed rate: ticks of 10 ms, each sending its share
  const perTick = Math.max(1, Math.round(rate / 100));
  const timer = setInterval(() => {
    for (let i = 0; i < perTick && sentN < total; i++, sentN++) {
      const payload = Buffer.alloc(64);
      payload.writeBigUInt64BE(process.hrtime.bigint(), 0);
      pub.publish('bench/lat', payload, { qos: 0 });
    }
    if (sentN >= total) clearInterval(timer);
  }, 10);
  await Promise.race([done, new Promise((r) => setTimeout(r, seconds * 1000 + 5000))]);
  clearInterval(timer);
  await Promise.all([sub.endAsync(true), pub.endAsync(true)]);
  if (failed) throw failed;
  samples.sort((a, b) => a - b);
  const q = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
  return { p50: q(0.5), p99: q(0.99) };
}

const idleConns: Conn[] = [];
async function idle(port: number, connections: number): Promise<Result> {
  const CONCURRENT = 250;
  for (let i = 0; i < connections; i += CONCURRENT)
    idleConns.push(
      ...(await Promise.all(Array.from({ length: Math.min(CONCURRENT, connections - i) }, () => connect(port)))),
    );
  return { connected: idleConns.length };
}

process.on('message', (msg: Scenario | 'release') => {
  const reply = (p: Promise<Result>): void =>
    void p.then(
      (result) => process.send!({ result }),
      (err: unknown) => process.send!({ error: String(err) }),
    );
  if (msg === 'release') return reply(closeAll(idleConns.splice(0)).then(() => ({})));
  if (msg.kind === 'fan-in') reply(fanIn(msg.port, msg.qos, msg.publishers, msg.seconds));
  else if (msg.kind === 'open-loop') reply(openLoopFanIn(msg));
  else if (msg.kind === 'fan-out') reply(fanOut(msg.port, msg.subscribers, msg.seconds));
  else if (msg.kind === 'latency') reply(latency(msg.port, msg.rate, msg.seconds));
  else reply(idle(msg.port, msg.connections));
});
process.on('disconnect', () => process.exit(0));
