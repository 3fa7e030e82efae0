// RP throughput and latency beside a bare fastify route serving the same stored JSON.
// GET: the RP validates the bearer token, parses the ARM path, reads its store; the bare route does
// none of that. PUT: creates distinct resources (validation, store transaction with its async
// operation and feed event), reported as accepted writes per second.
//
// The servers run as the product ships them — JavaScript compiled by the project's tsc, in a process
// of their own — and autocannon runs here. Bare and RP GET alternate over several rounds, so a change
// in the machine's load during the run shifts both sides of each ratio; the median ratio is the figure.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import autocannon from 'autocannon';
import { compileForBench } from './compile.js';

interface Servers {
  rpUrl: string;
  bareUrl: string;
  token: string;
  base: string;
  body: unknown;
}

const ROUND_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_S = 2;
const CONNECTIONS = 16;
/** A directory: the servers' process writes a V8 CPU profile there (node --cpu-prof). */
const PROFILE_DIR = process.env.BENCH_PROFILE;
const API = 'api-version=2023-10-04-preview';

function load(seconds: number, options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ duration: seconds, connections: CONNECTIONS, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
}

function figures(result: autocannon.Result): Figures {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export async function runRpBenchmark(): Promise<void> {
  const entry = await compileForBench('rp-servers');
  const child = fork(entry, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, IOTMQ_LOG_LEVEL: 'warn' },
    execArgv: PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [],
  });
  const [servers] = (await once(child, 'message')) as [Servers];
  const auth = { authorization: `Bearer ${servers.token}` };
  const bare = (seconds: number) => load(seconds, { url: `${servers.bareUrl}/stored` });
  const rpGet = (seconds: number) =>
    load(seconds, { url: `${servers.rpUrl}${servers.base}/mq/bench-get?${API}`, headers: auth });
  let n = 0;
  const rpPut = (seconds: number) =>
    load(seconds, {
      url: servers.rpUrl,
      requests: [
        {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify(servers.body),
          setupRequest: (request) => ({ ...request, path: `${servers.base}/mq/put-${n++}?${API}` }),
        },
      ],
    });

  const rows: { round: number; bare: Figures; get: Figures; put: Figures }[] = [];
  try {
    // JIT warm-up of every path, not counted.
    for (const run of [bare, rpGet, rpPut]) await run(WARMUP_S);
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which side goes first, so neither always runs on the warmer (or busier) machine.
      const [first, second] = round % 2 ? [bare, rpGet] : [rpGet, bare];
      const a = figures(await first(ROUND_S));
      const b = figures(await second(ROUND_S));
      const [bareFigures, getFigures] = round % 2 ? [a, b] : [b, a];
      rows.push({ round, bare: bareFigures, get: getFigures, put: figures(await rpPut(ROUND_S)) });
    }
  } finally {
    const exited = once(child, 'exit');
    child.disconnect(); // the servers exit on their own, so a CPU profile gets written
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  print(rows);
}

function print(rows: { round: number; bare: Figures; get: Figures; put: Figures }[]): void {
  const line = (cells: string[]) => console.log(cells.map((c, i) => (i ? c.padStart(9) : c.padEnd(24))).join(''));
  console.log(
    `\nRP benchmark: ${rows.length} rounds of ${ROUND_S}s per run (after ${WARMUP_S}s warm-up), ${CONNECTIONS} connections;`,
  );
  console.log('servers compiled by tsc in their own process, autocannon in this one; bare and RP GET alternate\n');
  line(['round / run', 'req/s', 'p50 ms', 'p99 ms', 'failed', 'RP/bare']);
  for (const { round, bare, get, put } of rows) {
    const cells = (name: string, f: Figures, ratio = '') => [
      name,
      f.rps.toFixed(0),
      String(f.p50),
      String(f.p99),
      String(f.failed),
      ratio,
    ];
    line(cells(`${round} bare fastify GET`, bare));
    line(cells(`${round} RP GET`, get, `${(get.rps / bare.rps).toFixed(2)}x`));
    line(cells(`${round} RP PUT (SQLite)`, put));
  }
  const ratios = rows.map((r) => r.get.rps / r.bare.rps);
  const puts = rows.map((r) => r.put.rps);
  console.log(
    `\nRP GET / bare GET throughput: ${ratios.map((r) => `${r.toFixed(2)}x`).join(', ')}; median ${median(ratios).toFixed(2)}x   (goal >= 0.6x)`,
  );
  console.log(
    `RP PUT accepted (create, SQLite, synchronous=FULL): ${puts.map((p) => p.toFixed(0)).join(', ')}/s; median ${median(puts).toFixed(0)}/s   (goal >= 2000/s)`,
  );
}
