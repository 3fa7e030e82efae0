// Seeded MQTT fuzzing against a broker in its own process: random and mutated packet streams
// (noise, damaged CONNECTs, truncated and oversized frames, protocol violations such as packet id
// 0 or DUP on QoS 0, $SYS publishes, damaged MQTT 5 properties), each on its own TCP connection.
// Used by the broker fuzz test (a small run in `npm test`) and by `npm run bench -- fuzz-mqtt`
// (30,000 cases and more). The same seed gives the same cases, so a failure replays.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { BrokerOptions } from '../../extension/broker/broker.js';
import type { BackendStats } from '../../extension/broker/session/session-backend.js';
import { seededRandom } from './random.js';

export type Outcome = 'answered' | 'closed' | 'silent';

export interface HeapReport extends BackendStats {
  heapUsed: number;
  rss: number;
  connections: number;
}

export interface FuzzBroker {
  port: number;
  url: string;
  /** Heap after a forced GC, once every connection is gone. */
  heap(): Promise<HeapReport>;
  /** Set when the broker process ended before close(): a crash. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  close(): Promise<void>;
}

/** The broker of test/integration/broker/fixtures/gc-broker.ts, in a child process with --expose-gc. */
export async function startFuzzBroker(options: BrokerOptions): Promise<FuzzBroker> {
  const fixture = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../integration/broker/fixtures/gc-broker.ts',
  );
  const child: ChildProcess = fork(fixture, [JSON.stringify(options)], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let closing = false;
  const broker: FuzzBroker = {
    port: 0,
    url: '',
    exit: undefined,
    async heap() {
      child.send('heap');
      const [report] = (await once(child, 'message')) as [HeapReport];
      return report;
    },
    async close() {
      closing = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      if (child.connected) child.send('close');
      else child.kill('SIGKILL');
      await exited;
    },
  };
  child.on('exit', (code, signal) => {
    if (!closing) broker.exit = { code, signal };
  });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  broker.port = port;
  broker.url = `mqtt://127.0.0.1:${port}`;
  return broker;
}

/** A well-formed CONNECT alone in `data` (a mutation can leave one): its CONNACK is an answer. */
function isLoneConnect(data: Buffer): boolean {
  const parser = mqttPacket.parser();
  const packets: Packet[] = [];
  let failed = false;
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', () => (failed = true));
  const left = parser.parse(data);
  return !failed && left === 0 && packets.length === 1 && packets[0].cmd === 'connect';
}

/**
 * The case generator for `seed`: each call returns the bytes of one case. Connections use keep
 * alive 1 s, so with a CONNECT timeout of 1 s every case must end or be answered within ~1.5 s.
 */
export function mqttFuzzCases(seed: number): () => Buffer {
  const rng = seededRandom(seed);
  const int = (n: number): number => Math.floor(rng() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const version = (): 4 | 5 => (rng() < 0.5 ? 4 : 5);
  const connect = (v: 4 | 5, extra: Partial<mqttPacket.IConnectPacket> = {}): Buffer =>
    mqttPacket.generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: v,
        clientId: `f${int(50)}`,
        clean: true,
        keepalive: 1,
        ...extra,
      },
      { protocolVersion: v },
    );
  const properties = (): NonNullable<mqttPacket.IPublishPacket['properties']> => ({
    ...(rng() < 0.5 ? { userProperties: { k: `v${int(9)}` } } : {}),
    ...(rng() < 0.3 ? { topicAlias: 1 + int(100) } : {}),
    ...(rng() < 0.3 ? { messageExpiryInterval: int(100) } : {}),
    ...(rng() < 0.3 ? { contentType: 'text/plain', payloadFormatIndicator: rng() < 0.5 } : {}),
    ...(rng() < 0.2 ? { responseTopic: `r/${int(9)}`, correlationData: bytes(int(8)) } : {}),
  });
  const valid = (v: 4 | 5): Buffer => {
    const packets: Packet[] = [
      {
        cmd: 'publish',
        topic: rng() < 0.05 ? `$SYS/broker/${int(9)}` : `t/${int(9)}`,
        payload: bytes(int(40)),
        qos: int(3) as 0 | 1 | 2,
        retain: rng() < 0.2,
        dup: false,
        messageId: 1 + int(100),
        ...(v === 5 && rng() < 0.5 ? { properties: properties() } : {}),
      },
      {
        cmd: 'subscribe',
        messageId: 1 + int(100),
        subscriptions: [{ topic: rng() < 0.5 ? 't/#' : '$share/g/t/+', qos: int(3) as 0 | 1 | 2 }],
        ...(v === 5 && rng() < 0.3 ? { properties: { subscriptionIdentifier: int(5) } } : {}),
      },
      { cmd: 'unsubscribe', messageId: 1 + int(100), unsubscriptions: ['t/#'] },
      { cmd: 'puback', messageId: 1 + int(100) },
      { cmd: 'pubrec', messageId: 1 + int(100) },
      { cmd: 'pubrel', messageId: 1 + int(100) },
      { cmd: 'pubcomp', messageId: 1 + int(100) },
      { cmd: 'pingreq' },
      { cmd: 'disconnect', ...(v === 5 && rng() < 0.5 ? { reasonCode: 4 } : {}) },
      ...(v === 5 ? [{ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'X' } } as Packet] : []),
    ];
    return mqttPacket.generate(packets[int(packets.length)], { protocolVersion: v });
  };
  const mutate = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    for (let i = 0, n = 1 + int(4); i < n; i++) out[int(out.length)] = int(256);
    return out;
  };
  const frame = (first: number, body: number[]): Buffer => Buffer.from([first, body.length, ...body]);
  const afterConnect = (make: (v: 4 | 5) => Buffer): Buffer => {
    const v = version();
    return Buffer.concat([connect(v), make(v)]);
  };
  const kinds: Array<() => Buffer> = [
    () => bytes(1 + int(300)), // noise instead of CONNECT
    () => mutate(connect(version())), // damaged CONNECT
    () => {
      const v = version();
      const will = {
        topic: rng() < 0.2 ? '$SYS/x' : `w/${int(9)}`,
        payload: bytes(int(30)),
        qos: int(3) as 0 | 1 | 2,
        retain: rng() < 0.5,
      };
      return mutate(connect(v, { will, username: `u${int(5)}`, password: bytes(int(10)) }));
    }, // damaged CONNECT with will and credentials
    () => afterConnect(() => bytes(1 + int(200))),
    () => afterConnect((v) => mutate(valid(v))),
    () =>
      afterConnect((v) => {
        const p = valid(v);
        return p.subarray(0, Math.max(1, int(p.length))); // truncated
      }),
    () => afterConnect(() => Buffer.concat([Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), bytes(int(50))])), // oversize
    () =>
      Buffer.concat([
        Buffer.from([0x10, 0x80, 0x80, 0x80, 0x1e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 5]),
        bytes(int(2000)),
      ]), // 60 MiB CONNECT
    () => Buffer.concat([connect(4), Buffer.from([0x30, 0x07, 0x00, 0x03, 0xc3, 0x28, 0xff, 0x61, 0x62])]), // invalid UTF-8 topic
    () => afterConnect((v) => connect(v)), // second CONNECT
    () => afterConnect(() => Buffer.from([0x20, 0x02, 0x00, 0x00])), // CONNACK from a client
    () => Buffer.concat([connect(5), Buffer.from([0x30, 0x04, 0x00, 0x00, 0x00, 0x00])]), // empty topic, no alias
    () => afterConnect((v) => frame(0x32 | (int(2) << 1), [0x00, 0x01, 0x74, 0x00, 0x00, ...(v === 5 ? [0] : [])])), // packet id 0
    () => afterConnect((v) => frame(0x82, [0x00, 0x00, ...(v === 5 ? [0] : []), 0x00, 0x01, 0x74, 0x00])), // SUBSCRIBE id 0
    () => afterConnect((v) => frame(0x38, [0x00, 0x01, 0x74, ...(v === 5 ? [0] : []), 0x78])), // DUP on QoS 0
    () => afterConnect((v) => Buffer.concat(Array.from({ length: 1 + int(20) }, () => valid(v)))),
    () => afterConnect((v) => Buffer.concat(Array.from({ length: 1 + int(5) }, () => mutate(valid(v))))),
  ];
  return () => kinds[int(kinds.length)]();
}

/** One case on its own connection: answered, closed by the broker, or silent (a defect). */
export function runFuzzCase(port: number, data: Buffer, timeoutMs = 10_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = 0;
    let connackLength = -1;
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    // a well-formed lone CONNECT (a mutation can leave one, e.g. with a long keep alive) is
    // answered by its CONNACK; otherwise something must follow the CONNACK
    const answeredAfter = isLoneConnect(data) ? 0 : Math.max(connackLength, 0);
    const timer = setTimeout(() => done(received > answeredAfter ? 'answered' : 'silent'), timeoutMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d) => {
      if (connackLength < 0 && d[0] === 0x20) connackLength = Math.min(d.length, 2 + d[1]);
      received += d.length;
    });
    socket.on('error', () => {});
    socket.on('close', () => done('closed'));
  });
}

export interface FuzzRun {
  outcomes: Record<Outcome, number>;
  /** Hex of every case that got neither an answer nor a close. */
  silent: string[];
  /** Heap after GC at the end of each round. */
  heaps: HeapReport[];
}

/** `cases` cases from `seed` in `rounds` rounds, `concurrency` connections at a time. */
export async function runFuzz(
  broker: FuzzBroker,
  options: {
    seed: number;
    cases: number;
    rounds: number;
    concurrency: number;
    /**
     * How long a case may go without an answer or a close (default 10 s). The broker must act
     * within ~2 s (CONNECT timeout and keep alive 1 s, a 1 s sweep); the margin is for a loaded
     * machine (a 30,000-case run beside other work had cases take over 4 s).
     */
    caseTimeoutMs?: number;
    /** After each round, with the broker's heap then (none once it has crashed). */
    onRound?: (round: number, heap: HeapReport | undefined) => void;
  },
): Promise<FuzzRun> {
  const next = mqttFuzzCases(options.seed);
  const run: FuzzRun = { outcomes: { answered: 0, closed: 0, silent: 0 }, silent: [], heaps: [] };
  const perRound = Math.ceil(options.cases / options.rounds);
  let ran = 0;
  for (let round = 0; round < options.rounds && !broker.exit; round++) {
    const inputs = Array.from({ length: Math.min(perRound, options.cases - ran) }, next);
    for (let i = 0; i < inputs.length && !broker.exit; i += options.concurrency) {
      const batch = inputs.slice(i, i + options.concurrency);
      const results = await Promise.all(batch.map((data) => runFuzzCase(broker.port, data, options.caseTimeoutMs)));
      results.forEach((o, j) => {
        run.outcomes[o]++;
        if (o === 'silent') run.silent.push(batch[j].toString('hex'));
      });
    }
    ran += inputs.length;
    const heap = broker.exit ? undefined : await broker.heap();
    if (heap) run.heaps.push(heap);
    options.onRound?.(round, heap);
  }
  return run;
}
