// Broker benchmark: iotmq beside mosquitto (Debian's binary) and aedes (npm) on the same load, in
// one run. Each broker runs in its own process, the load generator (bench/broker-load.ts) in
// another, all on 127.0.0.1; every process is stopped at the end. Scenarios: QoS 0 and QoS 1
// fan-in (N publishers → 1 subscriber, closed loop: a window of messages in flight), the open-loop
// fan-in (publishers write as fast as TCP takes it, nobody waits for the subscriber; delivered/sent
// shows what a broker drops), fan-out (1 → N), latency at a fixed rate, and the RSS of 10,000 idle
// connections. Printed as a table and as ratios to mosquitto.
//
// `npm run bench -- broker --only=open-loop --rounds=3 --brokers=mosquitto,iotmq`: only the
// scenarios whose name starts with `open-loop`, three rounds with the brokers' order alternating,
// medians reported (figures on a shared machine are noisy; the ratio column is the median of each
// round's ratio), only the brokers named.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Result, Scenario } from './broker-load.js';
import { BROKER_NODE_OPTIONS } from '../extension/broker/node-options.js';
import { compileForBench } from './compile.js';

type Load = Scenario extends infer S ? (S extends Scenario ? Omit<S, 'port'> : never) : never;

const SECONDS = Number(process.env.BENCH_DURATION ?? 3);
const PUBLISHERS = 10;
const SUBSCRIBERS = 50;
const LATENCY_RATE = 2000; // messages per second
const OPEN_LOOP = { publishers: 4, messages: 50_000, inflight: 64 };
/** The open-loop QoS 1 flood once more, to an MQTT 5 subscriber with this Receive Maximum. */
const SMALL_RECEIVE_MAXIMUM = 20;
const IDLE_CONNECTIONS = 10_000;
const MOSQUITTO = process.env.MOSQUITTO ?? '/usr/sbin/mosquitto';
const here = import.meta.dirname;
const tsx = { execArgv: ['--import', 'tsx'] };

interface RunningBroker {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

async function stopChild(child: ChildProcess, graceful: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  graceful();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

let compiledServers: Promise<string> | undefined;

async function startNodeBroker(name: 'iotmq' | 'aedes'): Promise<RunningBroker> {
  const entry = await (compiledServers ??= compileForBench('broker-servers'));
  const child = fork(entry, [name], {
    // plain node, as in production: fork() would otherwise pass on this process's tsx loader
    // (an ESM hooks thread and its modules, some 25 MiB of the broker's RSS)
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // iotmq with the NODE_OPTIONS its container gets (extension/broker/node-options.ts)
    env: {
      ...process.env,
      IOTMQ_LOG_LEVEL: 'warn',
      ...(name === 'iotmq' ? { NODE_OPTIONS: BROKER_NODE_OPTIONS } : {}),
    },
  });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  // a crashed broker may still look alive for a moment: a failed 'close' just leaves it to SIGKILL
  return {
    name,
    port,
    pid: child.pid!,
    stop: () => stopChild(child, () => child.connected && child.send('close', () => {})),
  };
}

async function startMosquitto(): Promise<RunningBroker> {
  const dir = mkdtempSync(path.join(tmpdir(), 'iotmq-bench-mosquitto-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nlog_type error\nlog_dest stderr\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  const failed = once(child, 'exit').then(([code]) => {
    throw new Error(`mosquitto exited with ${code} (is it installed? test/peers/mosquitto.sh)`);
  });
  // mosquitto says nothing when ready at log_type error: wait until the port accepts
  for (let ready = false; !ready;) {
    ready = await Promise.race([
      failed,
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => setTimeout(() => resolve(false), 50));
      }),
    ]);
  }
  failed.catch(() => {});
  return {
    name: 'mosquitto',
    port,
    pid: child.pid!,
    async stop() {
      await stopChild(child, () => child.kill('SIGTERM'));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Figures {
  fanIn0: number;
  fanIn1: number;
  /** open loop: delivered msg/s and delivered/sent */
  open0: number;
  open0Share: number;
  open1: number;
  open1Share: number;
  open1Rm: number;
  open1RmShare: number;
  fanOut: number;
  p50: number;
  p99: number;
  idleRssMiB: number;
  perConnKiB: number;
}

/** A broker under test: restarted when it falls over under a load (aedes can overflow its stack on a burst). */
class Subject {
  figures: Partial<Figures> = {};
  /** The figures of every round. */
  readonly rounds: Array<Partial<Figures>> = [];
  private constructor(
    private broker: RunningBroker,
    private readonly start: () => Promise<RunningBroker>,
  ) {}
  static async create(start: () => Promise<RunningBroker>): Promise<Subject> {
    return new Subject(await start(), start);
  }
  get name(): string {
    return this.broker.name;
  }
  get pid(): number {
    return this.broker.pid;
  }
  /** Runs one scenario; NaN figures (and a restart) when the broker failed under it. */
  async run(load: ChildProcess, s: Load | 'release'): Promise<Result> {
    load.send(s === 'release' ? s : { ...s, port: this.broker.port });
    const [reply] = (await once(load, 'message')) as [{ result?: Result; error?: string }];
    if (!reply.error) return reply.result!;
    console.error(`${this.name}: ${typeof s === 'string' ? s : s.kind} failed: ${reply.error}`);
    await this.broker.stop();
    this.broker = await this.start();
    return { rate: NaN, p50: NaN, p99: NaN, connected: NaN, sent: NaN, delivered: NaN };
  }
  stop(): Promise<void> {
    return this.broker.stop();
  }
  /** A fresh process, so memory is measured from a known start and not after the throughput runs. */
  async restart(): Promise<void> {
    await this.broker.stop();
    this.broker = await this.start();
  }
}

/** `--name=value` options of the broker benchmark (run.ts passes everything after the names on). */
function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** Of the rounds that measured it (a broker may not take part in a scenario, or fail in it). */
const median = (values: Array<number | undefined>): number => {
  const sorted = values.filter((v): v is number => v !== undefined && !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Scenario by scenario, each broker in turn (all stay up, idle when not measured), so a change in
 * the machine's load during the run shifts all of them rather than one; with several rounds the
 * order of the brokers alternates from round to round.
 */
export async function runBrokerBenchmark(): Promise<void> {
  const only = option('only');
  const rounds = Math.max(1, Number(option('rounds') ?? 1));
  const brokers = option('brokers')?.split(',') ?? ['mosquitto', 'iotmq', 'aedes'];
  const load = fork(path.join(here, 'broker-load.ts'), [], { ...tsx, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const subjects: Subject[] = [];
  const openLoop =
    (
      qos: 0 | 1,
      rate: 'open0' | 'open1' | 'open1Rm',
      share: 'open0Share' | 'open1Share' | 'open1RmShare',
      subscriberReceiveMaximum?: number,
    ) =>
    async (s: Subject): Promise<void> => {
      const r = await s.run(load, { kind: 'open-loop', qos, ...OPEN_LOOP, subscriberReceiveMaximum });
      s.figures[rate] = r.rate;
      s.figures[share] = r.delivered! / r.sent!;
    };
  const scenarios: Array<[string, (s: Subject) => Promise<void>]> = [
    [
      'fan-in QoS 0',
      async (s) => {
        s.figures.fanIn0 = (
          await s.run(load, { kind: 'fan-in', qos: 0, publishers: PUBLISHERS, seconds: SECONDS })
        ).rate;
      },
    ],
    [
      'fan-in QoS 1',
      async (s) => {
        s.figures.fanIn1 = (
          await s.run(load, { kind: 'fan-in', qos: 1, publishers: PUBLISHERS, seconds: SECONDS })
        ).rate;
      },
    ],
    ['open-loop QoS 0', openLoop(0, 'open0', 'open0Share')],
    ['open-loop QoS 1', openLoop(1, 'open1', 'open1Share')],
    [
      `open-loop QoS 1, Receive Maximum ${SMALL_RECEIVE_MAXIMUM}`,
      openLoop(1, 'open1Rm', 'open1RmShare', SMALL_RECEIVE_MAXIMUM),
    ],
    [
      'fan-out',
      async (s) => {
        s.figures.fanOut = (await s.run(load, { kind: 'fan-out', subscribers: SUBSCRIBERS, seconds: SECONDS })).rate;
      },
    ],
    [
      'latency',
      async (s) => {
        const lat = await s.run(load, { kind: 'latency', rate: LATENCY_RATE, seconds: SECONDS });
        Object.assign(s.figures, { p50: lat.p50, p99: lat.p99 });
      },
    ],
    [
      'idle connections',
      async (s) => {
        await s.restart();
        const before = rssKiB(s.pid);
        const idle = await s.run(load, { kind: 'idle', connections: IDLE_CONNECTIONS });
        const after = Number.isNaN(idle.connected) ? NaN : rssKiB(s.pid);
        await s.run(load, 'release');
        Object.assign(s.figures, { idleRssMiB: after / 1024, perConnKiB: (after - before) / IDLE_CONNECTIONS });
      },
    ],
  ];
  const selected = scenarios.filter(([label]) => !only || label.startsWith(only));
  if (selected.length === 0) throw new Error(`no broker scenario starts with '${only}'`);
  try {
    const starts = {
      mosquitto: startMosquitto,
      iotmq: () => startNodeBroker('iotmq'),
      aedes: () => startNodeBroker('aedes'),
    };
    for (const [name, start] of Object.entries(starts))
      if (brokers.includes(name)) subjects.push(await Subject.create(start));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? subjects : [...subjects].reverse();
      for (const [label, measure] of selected)
        for (const s of order) {
          // aedes speaks MQTT 3.1.1 only
          if (label.includes('Receive Maximum') && s.name === 'aedes') continue;
          const before = { ...s.figures };
          await measure(s);
          const measured = Object.entries(s.figures)
            .filter(([k, v]) => before[k as keyof Figures] !== v)
            .map(([k, v]) => `${k} ${Number(v).toPrecision(4)}`);
          console.error(`${rounds > 1 ? `round ${round + 1}: ` : ''}${label}: ${s.name}: ${measured.join(', ')}`);
        }
      for (const s of subjects) {
        s.rounds.push(s.figures);
        s.figures = {};
      }
    }
  } finally {
    for (const s of subjects) await s.stop();
    await stopChild(load, () => load.disconnect());
  }
  printTable(new Map(subjects.map((s) => [s.name, s.rounds as Figures[]])));
}

function printTable(results: Map<string, Figures[]>): void {
  const base = results.get('mosquitto')!;
  const open = `${OPEN_LOOP.publishers}×${OPEN_LOOP.messages / 1000}k→1`;
  const rows: Array<[string, keyof Figures, (n: number) => string]> = [
    [`fan-in QoS 0 (${PUBLISHERS}→1), msg/s`, 'fanIn0', (n) => n.toFixed(0)],
    [`fan-in QoS 1 (${PUBLISHERS}→1), msg/s`, 'fanIn1', (n) => n.toFixed(0)],
    [`open-loop QoS 0 (${open}), delivered msg/s`, 'open0', (n) => n.toFixed(0)],
    [`open-loop QoS 0, delivered/sent`, 'open0Share', (n) => n.toFixed(3)],
    [`open-loop QoS 1 (${open}, ${OPEN_LOOP.inflight} unacked), delivered msg/s`, 'open1', (n) => n.toFixed(0)],
    [`open-loop QoS 1, delivered/sent`, 'open1Share', (n) => n.toFixed(3)],
    [`open-loop QoS 1 to Receive Maximum ${SMALL_RECEIVE_MAXIMUM}, delivered msg/s`, 'open1Rm', (n) => n.toFixed(0)],
    [
      `open-loop QoS 1 to Receive Maximum ${SMALL_RECEIVE_MAXIMUM}, delivered/sent`,
      'open1RmShare',
      (n) => n.toFixed(3),
    ],
    [`fan-out QoS 0 (1→${SUBSCRIBERS}), deliveries/s`, 'fanOut', (n) => n.toFixed(0)],
    [`latency p50 @${LATENCY_RATE}/s, ms`, 'p50', (n) => n.toFixed(3)],
    [`latency p99 @${LATENCY_RATE}/s, ms`, 'p99', (n) => n.toFixed(3)],
    [`RSS with ${IDLE_CONNECTIONS} idle conns, MiB`, 'idleRssMiB', (n) => n.toFixed(1)],
    ['RSS per idle connection, KiB', 'perConnKiB', (n) => n.toFixed(2)],
  ];
  const names = [...results.keys()];
  const others = names.filter((n) => n !== 'mosquitto');
  const header = ['scenario', ...names, ...others.map((n) => `${n}/mosquitto`)];
  const measured = rows.filter(([, key]) => base.some((round) => round[key] !== undefined));
  const lines = measured.map(([label, key, fmt]) => [
    label,
    ...names.map((n) => fmt(median(results.get(n)!.map((round) => round[key])))),
    // the median of the rounds' ratios: each round's brokers ran under the same machine load
    ...others.map((n) => `${median(results.get(n)!.map((round, i) => round[key] / base[i][key])).toFixed(2)}×`),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmtLine = (l: string[]): string => `| ${l.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  if (base.length > 1) console.log(`medians of ${base.length} rounds`);
  console.log(fmtLine(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmtLine(l));
  console.log('ratios: throughput and delivered/sent higher is better; latency and memory lower is better');
}
