// The push path's latency and throughput on a live `iotmq dev` (free ports, temp data dir):
// (a) PUT a BrokerListener through the Azure SDK → LRO Succeeded, and → its port accepting;
// (b) 1,000 BrokerAuthorizations from the RP to custom resources on the local cluster, both while
//     the agent is live (PUTs streamed through the front door) and cold (the agent starts with
//     1,000 waiting and relists), beside the floor: the same 1,000 CRs applied to the cluster directly.
// Authorizations render cheaply (they name a listener that does not exist: ListenerNotFound, no
// broker reload), so (b) measures RP feed → agent → cluster, not the broker.
// The stack and the way it is driven come from the e2e fixture, which its tests keep honest.
import { crType, toCustomResource } from '../extension/agent/index.js';
import { SAMPLES } from '../scripts/specs/samples.js';
import {
  accepts,
  API_VERSION,
  freePort,
  listenerProperties,
  NAMESPACE,
  startDevStack,
  until,
  type DevStack,
} from '../test/e2e/dev-stack.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20);
const RESOURCES = Number(process.env.BENCH_RESOURCES ?? 1000);
const CONCURRENCY = 32;
// An ARM client's poll interval: the SDK default is 2 s (or Retry-After); a tight client polls faster.
const POLL = { updateIntervalInMs: 25 };

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!;
const ms = (n: number) => `${n.toFixed(0)} ms`.padStart(9);

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function countCrs(stack: DevStack, prefix: string): Promise<number> {
  const { items } = await stack.local.cluster.list(crType('BrokerAuthorization'), { namespace: NAMESPACE });
  return items.filter((cr) => cr.metadata.name.startsWith(prefix)).length;
}

async function listenerLatency(stack: DevStack) {
  const succeeded: number[] = [];
  const accepting: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const port = await freePort();
    const id = `${stack.brokerId}/listener/bench-${i}`;
    const start = performance.now();
    let acceptedAt = 0;
    // The port is probed beside the LRO: it may accept before or after the SDK sees Succeeded.
    const probe = until(
      'port accepting',
      async () => (await accepts(port)) && (acceptedAt = performance.now()),
      30_000,
      5,
    );
    await stack.putAndWait(id, listenerProperties(port, false), POLL);
    succeeded.push(performance.now() - start);
    await probe;
    accepting.push(acceptedAt - start);
    await stack.client.resources.beginDeleteByIdAndWait(id, API_VERSION, POLL);
  }
  return { succeeded, accepting };
}

async function manyResources(stack: DevStack) {
  const authz = (prefix: string) =>
    Array.from({ length: RESOURCES }, (_, i) => `${stack.brokerId}/authorization/${prefix}-${i}`);
  const properties = { ...SAMPLES.BrokerAuthorization!.properties, listenerRef: ['bench-no-such-listener'] };

  // Floor: the local cluster alone taking the same CRs (what the agent's applies cost at best).
  let start = performance.now();
  await pool(
    authz('floor'),
    CONCURRENCY,
    async (id) =>
      void (await stack.local.cluster.apply(
        toCustomResource('BrokerAuthorization', NAMESPACE, id, 'bench', { properties }),
        { fieldManager: 'bench' },
      )),
  );
  const floor = performance.now() - start;

  // Live: PUTs through the front door while the agent watches.
  start = performance.now();
  await pool(authz('live'), CONCURRENCY, async (id) => void (await stack.put(id, properties)));
  const accepted = performance.now() - start;
  await until('live CRs', async () => (await countCrs(stack, 'live-')) === RESOURCES, 120_000, 50);
  const live = performance.now() - start;

  // Cold: the agent is down while the RP takes 1,000 more; a new agent relists and applies them.
  await stack.local.agent.stop();
  await pool(authz('cold'), CONCURRENCY, async (id) => void (await stack.put(id, properties)));
  start = performance.now();
  const agent = stack.startAgent();
  await until('cold CRs', async () => (await countCrs(stack, 'cold-')) === RESOURCES, 120_000, 50);
  const cold = performance.now() - start;
  await agent.stop();
  return { floor, accepted, live, cold };
}

export async function runReconcileBenchmark(): Promise<void> {
  const stack = await startDevStack();
  try {
    const a = await listenerLatency(stack);
    console.log(`\nReconcile benchmark: iotmq dev (SDK → front door → RP → agent → local cluster → operator → broker)`);
    console.log(
      `(a) PUT BrokerListener, ${ITERATIONS} iterations, SDK polling every ${POLL.updateIntervalInMs} ms   goal p50 ≤ 1000 ms`,
    );
    console.log('    '.padEnd(34), 'p50'.padStart(9), 'p99'.padStart(9), 'max'.padStart(9));
    for (const [name, values] of [
      ['LRO Succeeded (SDK)', a.succeeded],
      ['port accepting', a.accepting],
    ] as const) {
      console.log(
        `    ${name.padEnd(30)}`,
        ms(percentile(values, 50)),
        ms(percentile(values, 99)),
        ms(Math.max(...values)),
      );
    }
    const b = await manyResources(stack);
    console.log(
      `(b) ${RESOURCES} BrokerAuthorizations → custom resources, ${CONCURRENCY} concurrent PUTs          goal ≤ 10000 ms`,
    );
    console.log(
      `    cluster apply alone (peer/floor)  ${ms(b.floor)}   ${(RESOURCES / (b.floor / 1000)).toFixed(0)} CR/s`,
    );
    console.log(
      `    live: PUTs accepted by the RP     ${ms(b.accepted)}   ${(RESOURCES / (b.accepted / 1000)).toFixed(0)} PUT/s`,
    );
    console.log(
      `    live: all ${RESOURCES} CRs on the cluster  ${ms(b.live)}   ${(b.live / b.floor).toFixed(1)}× floor`,
    );
    console.log(`    cold: agent start → all CRs       ${ms(b.cold)}   ${(b.cold / b.floor).toFixed(1)}× floor`);
  } finally {
    await stack.stop();
  }
}
