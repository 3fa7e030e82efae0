// Bad input never breaks the RP: a few thousand generated malformed requests (rp-fuzz.ts, seeded so
// a failure reproduces) must each get a 4xx in ARM's error shape, never a 5xx, and leave every
// stored resource exactly as it was; huge bodies get 413 and concurrent conflicting PUTs 412.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../support/random.js';
import { API, startRp, type RpHarness } from './harness.js';
import { FUZZ_BODIES as bodies, FUZZ_PATHS as paths, fuzzSnapshot, prepareFuzzTargets, runRpFuzz } from './rp-fuzz.js';

let rp: RpHarness;
const snapshot = () => fuzzSnapshot(rp);

beforeAll(async () => {
  rp = await startRp();
  await prepareFuzzTargets(rp);
});
afterAll(() => rp.close());

describe('malformed requests', () => {
  // The long run of the same generator: `npm run bench -- fuzz-rp` (bench/fuzz-rp.ts).
  it('get a 4xx ARM error every time and change nothing (3,000 requests, seed 20231004)', async () => {
    const before = await snapshot();
    const result = await runRpFuzz(rp, { seed: 20231004, cases: 3000 }, seededRandom(20231004));
    expect(result.failures.slice(0, 10)).toEqual([]);
    expect(await snapshot()).toBe(before);
  });

  it('huge bodies are refused with 413 and the server keeps serving', async () => {
    for (let i = 0; i < 5; i++) {
      const response = await rp.call(
        'PUT',
        `${paths.mq}?${API}`,
        JSON.stringify({ ...bodies.mq, tags: { big: 'x'.repeat(4 * 1024 * 1024 + i) } }),
      );
      expect(response.status).toBe(413);
    }
    expect((await rp.call('GET', `${paths.mq}?${API}`)).status).toBe(200);
  });

  it('concurrent conflicting PUTs with a stale ETag all fail; none lands', async () => {
    const before = await snapshot();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        rp.call(
          'PUT',
          `${paths.listener}?${API}`,
          { ...bodies.listener, tags: { writer: String(i) } },
          { 'if-match': '"stale-etag"' },
        ),
      ),
    );
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([412]));
    expect(await snapshot()).toBe(before);
  });
});
