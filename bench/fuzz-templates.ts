// The template fuzzer as a long run (issue 11: ≥ 40,000 seeded cases): the generator and oracle of
// test/integration/arm/template-fuzz.ts against `iotmq dev` (front door + RP, a fake agent) on
// HTTPS. Prints cases per second, the outcomes by status and code, and every finding with the seed
// that replays it (IOTMQ_FUZZ_SEED=<seed> IOTMQ_FUZZ_CASES=1 npx vitest run deployments-fuzz).
// FUZZ_CASES (default 40,000), FUZZ_SEED (first seed, default 1), FUZZ_CONCURRENCY (default 4).
import { startArm } from '../test/integration/arm/harness.js';
import { fuzzTemplates } from '../test/integration/arm/template-fuzz.js';

export async function runTemplateFuzz(): Promise<void> {
  const cases = Number(process.env.FUZZ_CASES ?? 40_000);
  const first = Number(process.env.FUZZ_SEED ?? 1);
  const concurrency = Number(process.env.FUZZ_CONCURRENCY ?? 4);
  const arm = await startArm({ agent: true });
  try {
    await arm.client.resourceGroups.createOrUpdate('fuzz', { location: 'eastus' });
    const outcomes: Record<string, number> = {};
    const started = performance.now();
    const findings = await fuzzTemplates(
      arm,
      'fuzz',
      first,
      cases,
      concurrency,
      (done, found) => {
        if (done % 1000 === 0)
          console.log(
            `fuzz-templates: ${done}/${cases} cases, ${((done * 1000) / (performance.now() - started)).toFixed(1)}/s, ${found.length} findings${found.length ? ` (seeds ${found.map((f) => f.seed).join(', ')})` : ''}`,
          );
      },
      outcomes,
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz-templates: ${cases} cases from seed ${first} in ${seconds.toFixed(0)} s (${(cases / seconds).toFixed(0)}/s)`,
    );
    for (const [label, count] of Object.entries(outcomes).sort((a, b) => b[1] - a[1]))
      console.log(`  ${String(count).padStart(7)}  ${label}`);
    const alive = await arm.call(
      'GET',
      `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/fuzz?api-version=2022-09-01`,
    );
    console.log(
      `fuzz-templates: ${findings.length} findings (crashes, 5xx, hangs, printed secrets); front door afterwards: ${alive.status}`,
    );
    for (const f of findings) console.log(`  seed ${f.seed} [${f.mutations.join(', ')}]: ${f.problem}`);
    if (findings.length > 0 || alive.status !== 200) process.exitCode = 1;
  } finally {
    await arm.close();
  }
}
