// RP throughput and latency beside a bare fastify route serving the same stored JSON.
// GET: the RP validates the bearer token, parses the ARM path, reads SQLite; the bare route does
// none of that. PUT: creates distinct resources (validation, store transaction with its async
// operation and feed event), reported as accepted writes per second.
import { fork } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';

interface Servers {
  rpUrl: string;
  bareUrl: string;
  token: string;
  base: string;
  body: unknown;
}

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 16;

function load(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ duration: DURATION_S, connections: CONNECTIONS, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

function describe(result: autocannon.Result) {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export async function runRpBenchmark(): Promise<void> {
  const child = fork(path.join(import.meta.dirname, 'rp-servers.ts'), {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const servers = await new Promise<Servers>((resolve) => child.once('message', (m) => resolve(m as Servers)));
  try {
    const auth = { authorization: `Bearer ${servers.token}` };
    const getPath = `${servers.base}/mq/bench-get?api-version=2023-10-04-preview`;
    const bareGet = describe(await load({ url: `${servers.bareUrl}/stored` }));
    const rpGet = describe(await load({ url: `${servers.rpUrl}${getPath}`, headers: auth }));
    let n = 0;
    const rpPut = describe(
      await load({
        url: servers.rpUrl,
        requests: [
          {
            method: 'PUT',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify(servers.body),
            setupRequest: (request) => ({
              ...request,
              path: `${servers.base}/mq/put-${n++}?api-version=2023-10-04-preview`,
            }),
          },
        ],
      }),
    );
    const barePut = describe(await load({ url: `${servers.bareUrl}/stored`, method: 'GET' }));
    const rows = [
      ['bare fastify GET (peer)', bareGet],
      ['RP GET', rpGet],
      ['RP PUT (create, SQLite)', rpPut],
    ] as const;
    console.log(`\nRP benchmark: ${DURATION_S}s per run, ${CONNECTIONS} connections, autocannon in a separate process`);
    console.log(
      'run'.padEnd(28),
      'req/s'.padStart(9),
      'p50 ms'.padStart(8),
      'p99 ms'.padStart(8),
      'non-2xx'.padStart(8),
    );
    for (const [name, r] of rows) {
      console.log(
        name.padEnd(28),
        r.rps.toFixed(0).padStart(9),
        String(r.p50).padStart(8),
        String(r.p99).padStart(8),
        String(r.non2xx + r.errors).padStart(8),
      );
    }
    console.log(`\nRP GET / bare GET throughput: ${(rpGet.rps / bareGet.rps).toFixed(2)}x   (goal >= 0.6x)`);
    // autocannon reports whole milliseconds: a 0 ms median has no meaningful ratio.
    const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a (peer below 1 ms)');
    console.log(`RP GET p50 / bare p50: ${ratio(rpGet.p50, bareGet.p50)}   p99: ${ratio(rpGet.p99, bareGet.p99)}`);
    console.log(
      `RP PUT accepted: ${rpPut.rps.toFixed(0)}/s = ${(rpPut.rps / bareGet.rps).toFixed(2)}x bare GET   (goal >= 2000/s)`,
    );
    void barePut;
  } finally {
    child.disconnect();
    child.kill();
  }
}
