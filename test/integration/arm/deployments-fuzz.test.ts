// The seeded template fuzzer (template-fuzz.ts) in npm test: a few hundred cases through the front
// door, every one answered in ARM's shape — no 5xx, no crash, no deployment that never ends. The
// benchmark-style run (`npm run bench -- fuzz-templates`) runs the same generator for 40,000+ cases;
// a finding there replays here by its seed.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resourceGroupStatus } from './deploy-client.js';
import { fuzzTemplates } from './template-fuzz.js';
import { startArm, type ArmHarness } from './harness.js';

const GROUP = 'fuzz';
const FIRST_SEED = Number(process.env.IOTMQ_FUZZ_SEED ?? 1);
const CASES = Number(process.env.IOTMQ_FUZZ_CASES ?? 300);

let arm: ArmHarness;
beforeAll(async () => {
  arm = await startArm({ agent: true });
  await arm.client.resourceGroups.createOrUpdate(GROUP, { location: 'eastus' });
});
afterAll(async () => {
  await arm?.close();
});

it(`${CASES} mutated templates from seed ${FIRST_SEED}: ARM errors only, no 5xx, no crash, no hang`, async () => {
  const findings = await fuzzTemplates(arm, GROUP, FIRST_SEED, CASES);
  expect(findings).toEqual([]);
  // The front door still answers after all of them.
  expect(await resourceGroupStatus(arm, GROUP)).toBe(200);
}, 600_000);
