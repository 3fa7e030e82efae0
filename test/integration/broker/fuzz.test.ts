// Fuzz: thousands of random and mutated packets (truncated frames, oversize remaining lengths,
// invalid UTF-8, protocol violations) against a running broker, from a seeded PRNG so a failure
// replays. Every connection must be answered or closed, and afterwards the broker must still
// serve a well-behaved client. The broker runs in a child process with --expose-gc, so the heap
// after a forced GC can be compared between rounds: a leak per connection or per bad packet grows
// it round after round.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { BrokerOptions } from '../../../extension/broker/broker.js';
import type { BackendStats } from '../../../extension/broker/session/session-backend.js';
import { collect, connectClient, onCleanup } from './helpers.js';
import { seededRandom } from '../../support/random.js';

const SEED = Number(process.env.IOTMQ_FUZZ_SEED ?? 20231004);
const CASES = Number(process.env.IOTMQ_FUZZ_CASES ?? 2000);
const ROUNDS = 5;
const CONCURRENCY = 200;
/** Heap growth allowed from the end of round 2 to the end of the last round (warm-up excluded). */
const HEAP_GROWTH_BOUND = 4 * 1024 * 1024; // ~3.5 KiB per fuzz connection of rounds 3–5

interface HeapReport extends BackendStats {
  heapUsed: number;
  connections: number;
}

async function startGcBroker(options: BrokerOptions) {
  const child: ChildProcess = fork(
    path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/gc-broker.ts'),
    [JSON.stringify(options)],
    { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    if (child.connected) child.send('close');
    else child.kill('SIGKILL');
    await exited;
  });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async heap(): Promise<HeapReport> {
      child.send('heap');
      const [report] = (await once(child, 'message')) as [HeapReport];
      return report;
    },
  };
}

type Outcome = 'answered' | 'closed' | 'silent';

function isLoneConnect(data: Buffer): boolean {
  const parser = mqttPacket.parser();
  const packets: Packet[] = [];
  let failed = false;
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', () => (failed = true));
  const left = parser.parse(data);
  return !failed && left === 0 && packets.length === 1 && packets[0].cmd === 'connect';
}

describe('fuzz', () => {
  it(`${CASES} random and mutated packet streams in ${ROUNDS} rounds, no heap growth (seed ${SEED})`, async () => {
    const { url, port, heap } = await startGcBroker({ limits: { connectTimeout: 1, maximumPacketSize: 1024 * 1024 } });
    const rng = seededRandom(SEED);
    const int = (n: number): number => Math.floor(rng() * n);
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
    const version = (): 4 | 5 => (rng() < 0.5 ? 4 : 5);
    const connect = (v: 4 | 5): Buffer =>
      mqttPacket.generate(
        { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: `f${int(50)}`, clean: true, keepalive: 1 },
        { protocolVersion: v },
      );
    const valid = (v: 4 | 5): Buffer => {
      const packets: Packet[] = [
        {
          cmd: 'publish',
          topic: `t/${int(9)}`,
          payload: bytes(int(40)),
          qos: int(3) as 0 | 1 | 2,
          retain: rng() < 0.2,
          dup: false,
          messageId: 1 + int(100),
        },
        {
          cmd: 'subscribe',
          messageId: 1 + int(100),
          subscriptions: [{ topic: rng() < 0.5 ? 't/#' : '$share/g/t/+', qos: int(3) as 0 | 1 | 2 }],
        },
        { cmd: 'unsubscribe', messageId: 1 + int(100), unsubscriptions: ['t/#'] },
        { cmd: 'puback', messageId: 1 + int(100) },
        { cmd: 'pubrel', messageId: 1 + int(100) },
        { cmd: 'pingreq' },
        { cmd: 'disconnect' },
      ];
      return mqttPacket.generate(packets[int(packets.length)], { protocolVersion: v });
    };
    const mutate = (b: Buffer): Buffer => {
      const out = Buffer.from(b);
      for (let i = 0, n = 1 + int(4); i < n; i++) out[int(out.length)] = int(256);
      return out;
    };
    const kinds: Array<() => Buffer> = [
      () => bytes(1 + int(300)), // noise instead of CONNECT
      () => mutate(connect(version())), // damaged CONNECT
      () => {
        const v = version();
        return Buffer.concat([connect(v), bytes(1 + int(200))]);
      },
      () => {
        const v = version();
        return Buffer.concat([connect(v), mutate(valid(v))]);
      },
      () => {
        const v = version();
        const p = valid(v);
        return Buffer.concat([connect(v), p.subarray(0, Math.max(1, int(p.length)))]);
      }, // truncated
      () => Buffer.concat([connect(version()), Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), bytes(int(50))]), // oversize remaining length
      () => Buffer.concat([connect(4), Buffer.from([0x30, 0x07, 0x00, 0x03, 0xc3, 0x28, 0xff, 0x61, 0x62])]), // invalid UTF-8 topic
      () => {
        const v = version();
        return Buffer.concat([connect(v), connect(v)]);
      }, // second CONNECT
      () => Buffer.concat([connect(version()), Buffer.from([0x20, 0x02, 0x00, 0x00])]), // CONNACK from a client
      () => Buffer.concat([connect(5), Buffer.from([0x30, 0x04, 0x00, 0x00, 0x00, 0x00])]), // empty topic, no alias
      () => {
        const v = version();
        return Buffer.concat([connect(v), ...Array.from({ length: 1 + int(20) }, () => valid(v))]);
      },
    ];

    const runCase = (data: Buffer): Promise<Outcome> =>
      new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        let received = 0;
        let connackLength = -1;
        const done = (o: Outcome): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve(o);
        };
        // keep alive is 1 s and the CONNECT timeout 1 s, so the broker must act within ~1.5 s
        // a well-formed lone CONNECT (a mutation can leave one, e.g. with a long keep alive) is answered by its CONNACK
        const answeredAfter = isLoneConnect(data) ? 0 : Math.max(connackLength, 0);
        const timer = setTimeout(() => done(received > answeredAfter ? 'answered' : 'silent'), 4000);
        socket.on('connect', () => socket.write(data));
        socket.on('data', (d) => {
          if (connackLength < 0 && d[0] === 0x20) connackLength = Math.min(d.length, 2 + d[1]);
          received += d.length;
        });
        socket.on('error', () => {});
        socket.on('close', () => done('closed'));
      });

    const outcomes: Record<Outcome, number> = { answered: 0, closed: 0, silent: 0 };
    const silent: string[] = [];
    const heaps: HeapReport[] = [];
    const perRound = Math.ceil(CASES / ROUNDS);
    let ran = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const inputs = Array.from({ length: Math.min(perRound, CASES - ran) }, () => kinds[int(kinds.length)]());
      for (let i = 0; i < inputs.length; i += CONCURRENCY) {
        const batch = inputs.slice(i, i + CONCURRENCY);
        const results = await Promise.all(batch.map(runCase));
        results.forEach((o, j) => {
          outcomes[o]++;
          if (o === 'silent') silent.push(batch[j].toString('hex'));
        });
      }
      ran += inputs.length;
      heaps.push(await heap());
    }
    expect(silent).toEqual([]);
    expect(ran).toBe(CASES);
    expect(outcomes.answered + outcomes.closed).toBe(CASES);
    console.info(
      `fuzz: ${CASES} cases (${JSON.stringify(outcomes)}); heap after GC per round (MiB): ` +
        heaps.map((h) => (h.heapUsed / 2 ** 20).toFixed(1)).join(', ') +
        `; sessions left ${heaps.at(-1)!.sessions}, retained ${heaps.at(-1)!.retainedMessages}, queued ${heaps.at(-1)!.queuedMessages}`,
    );
    // every connection was torn down, and what is left (sessions of fuzzed client ids, retained
    // messages on t/0..8) must not grow with the number of cases
    expect(heaps.at(-1)!.connections).toBe(0);
    expect(heaps.at(-1)!.heapUsed - heaps[1].heapUsed).toBeLessThan(HEAP_GROWTH_BOUND);

    // still serving a well-behaved client
    const sub = await connectClient(url, { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync('after/fuzz', { qos: 1 });
    const pub = await connectClient(url, { protocolVersion: 4 });
    await pub.publishAsync('after/fuzz', 'alive', { qos: 1 });
    expect((await got.next()).payload.toString()).toBe('alive');
  }, 120_000);
});
