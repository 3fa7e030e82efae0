// Fuzz: thousands of random and mutated packet streams (test/support/mqtt-fuzz.ts: truncated
// frames, oversize remaining lengths, invalid UTF-8, protocol violations, damaged MQTT 5
// properties) against a running broker, from a seeded PRNG so a failure replays. Every connection
// must be answered or closed, and afterwards the broker must still serve a well-behaved client.
// The broker runs in a child process with --expose-gc, so the heap after a forced GC can be
// compared between rounds: a leak per connection or per bad packet grows it round after round.
// The long run (30,000 cases and more) is `npm run bench -- fuzz-mqtt`.
import { describe, expect, it } from 'vitest';
import { runFuzz, startFuzzBroker } from '../../support/mqtt-fuzz.js';
import { collect, connectClient, onCleanup } from './helpers.js';

const SEED = Number(process.env.IOTMQ_FUZZ_SEED ?? 20231004);
const CASES = Number(process.env.IOTMQ_FUZZ_CASES ?? 2000);
const ROUNDS = 5;
const CONCURRENCY = 200;
/** Heap growth allowed from the end of round 2 to the end of the last round (warm-up excluded). */
const HEAP_GROWTH_BOUND = 4 * 1024 * 1024; // ~3.5 KiB per fuzz connection of rounds 3–5

describe('fuzz', () => {
  it(`${CASES} random and mutated packet streams in ${ROUNDS} rounds, no heap growth (seed ${SEED})`, async () => {
    const broker = await startFuzzBroker({ limits: { connectTimeout: 1, maximumPacketSize: 1024 * 1024 } });
    onCleanup(() => broker.close());
    const { outcomes, silent, heaps } = await runFuzz(broker, {
      seed: SEED,
      cases: CASES,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
    });
    expect(broker.exit).toBeUndefined();
    expect(silent).toEqual([]);
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
    const sub = await connectClient(broker.url, { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync('after/fuzz', { qos: 1 });
    const pub = await connectClient(broker.url, { protocolVersion: 4 });
    await pub.publishAsync('after/fuzz', 'alive', { qos: 1 });
    expect((await got.next()).payload.toString()).toBe('alive');
  }, 120_000);
});
