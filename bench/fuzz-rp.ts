// The RP body fuzzer as a long run (issue 11: ≥ 30,000 seeded cases): the generator and oracle of
// test/integration/rp/rp-fuzz.ts (npm test runs 3,000 of them) against the RP on a real port with
// its SQLite store. Prints cases per second, the outcomes by status and code, and every finding
// with the seed and case number that replay it; exits 1 on a finding or if the stored resources
// changed. FUZZ_CASES (default 30,000), FUZZ_SEED (default 20231004), FUZZ_CONCURRENCY (default 4).
import { fuzzSnapshot, prepareFuzzTargets, runRpFuzz } from '../test/integration/rp/rp-fuzz.js';
import { startRp } from '../test/integration/rp/harness.js';
import { seededRandom } from '../test/support/random.js';

export async function runRpFuzzBenchmark(): Promise<void> {
  const cases = Number(process.env.FUZZ_CASES ?? 30_000);
  const seed = Number(process.env.FUZZ_SEED ?? 20231004);
  const concurrency = Number(process.env.FUZZ_CONCURRENCY ?? 4);
  const rp = await startRp();
  try {
    await prepareFuzzTargets(rp);
    const before = await fuzzSnapshot(rp);
    const started = performance.now();
    const result = await runRpFuzz(
      rp,
      {
        seed,
        cases,
        concurrency,
        onProgress: (done) => {
          if (done % 5000 === 0)
            console.log(
              `fuzz-rp: ${done}/${cases} cases, ${((done * 1000) / (performance.now() - started)).toFixed(0)}/s`,
            );
        },
      },
      seededRandom(seed),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz-rp: ${cases} cases from seed ${seed} in ${seconds.toFixed(0)} s (${(cases / seconds).toFixed(0)}/s)`,
    );
    for (const [label, count] of Object.entries(result.outcomes).sort((a, b) => b[1] - a[1]))
      console.log(`  ${String(count).padStart(7)}  ${label}`);
    const unchanged = (await fuzzSnapshot(rp)) === before;
    const alive = await rp.call(
      'GET',
      '/providers/Microsoft.IoTOperationsMQ/operations?api-version=2023-10-04-preview',
    );
    const fivexx = Object.entries(result.outcomes)
      .filter(([label]) => /^(5\d\d|0)\b/.test(label))
      .reduce((sum, [, n]) => sum + n, 0);
    console.log(
      `fuzz-rp: ${result.failures.length} findings, ${fivexx} 5xx or dropped connections; stored resources ${unchanged ? 'unchanged' : 'CHANGED'}; RP afterwards: ${alive.status}`,
    );
    for (const failure of result.failures.slice(0, 50)) console.log(`  ${failure}`);
    if (result.failures.length > 0 || !unchanged || alive.status !== 200) process.exitCode = 1;
  } finally {
    await rp.close();
  }
}
