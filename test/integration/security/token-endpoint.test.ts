// Issue 11 item 5 (token endpoint): wrong client secrets are a lever on everyone's logins only if
// their hashing work is unbounded. Forty concurrent wrong secrets must not hold up a legitimate
// token; the flood beyond a small per-address share is refused at once with 429 + Retry-After; an
// unknown client id is refused with the same answer, after the same time, as a wrong secret.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawResult } from '../../support/raw-http.js';
import { useSecurityStack } from './stack.js';

const stack = useSecurityStack();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const tokenRequest = (clientId: string, clientSecret: string, localAddress?: string) => {
  const { raw, arm } = stack();
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
    scope: 'https://management.azure.com/.default',
  }).toString();
  return raw('POST', `/${arm.dev.config.tenantId}/oauth2/v2.0/token`, {
    who: 'anonymous',
    body,
    headers: FORM,
    localAddress,
  });
};

const timed = async <T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
};

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

/** A client never seen before (its secret not yet verified by this process), sending from `localAddress`. */
const newClient = async (localAddress?: string) => {
  const { arm } = stack();
  const { principal, clientSecret } = await arm.dev.frontDoor.identity.createServicePrincipal({
    tenantId: arm.dev.config.tenantId,
    displayName: 'cold client',
  });
  return () => tokenRequest(principal.clientId, clientSecret, localAddress);
};

/**
 * Sends 40 wrong secrets for the dev user and, once they are on their way, `probe`; answers in the
 * order they came back. Stated as an order, not in milliseconds: the tests share two cores with
 * everything else, and a slower machine slows flood and probe alike. Unbounded, the probe's check
 * queued behind all 40 (libuv's 4 threads, first come first served) and came back last.
 */
async function flood(probe: () => Promise<RawResult>) {
  const { clientId } = stack().arm.dev.config;
  const order: string[] = [];
  const wrong = Array.from({ length: 40 }, (_, i) =>
    tokenRequest(clientId, `wrong-${i}`).then((r) => (order.push(`flood ${r.status}`), r)),
  );
  const probed = probe().then((r) => (order.push('probe'), r));
  const [answers, answer] = await Promise.all([Promise.all(wrong), probed]);
  const checked = answers.filter((a) => a.status === 401).length;
  const checkedAfter = order.slice(order.indexOf('probe') + 1).filter((x) => x === 'flood 401').length;
  return { answers, answer, checked, checkedAfter };
}

// Each case runs scrypt dozens of times on two shared cores: allow it more than the default minute.
const SLOW = { timeout: 180_000 };

describe('the token endpoint under a flood of wrong secrets', () => {
  it(
    '40 concurrent wrong secrets: a legitimate token comes before the flood is checked; beyond its share the flood gets 429 + Retry-After',
    SLOW,
    async () => {
      const { clientId, clientSecret } = stack().arm.dev.config;
      const run = await flood(() => tokenRequest(clientId, clientSecret));
      expect(run.answer.status, run.answer.text).toBe(200);
      expect(
        run.checkedAfter,
        `${run.checkedAfter} of ${run.checked} checked wrong secrets answered after it`,
      ).toBeGreaterThanOrEqual(run.checked / 2);
      const statuses = run.answers.map((a) => a.status);
      expect(
        statuses.every((s) => s === 401 || s === 429),
        statuses.join(','),
      ).toBe(true);
      const throttled = run.answers.filter((a) => a.status === 429);
      expect(throttled.length).toBeGreaterThan(20);
      for (const answer of throttled) {
        expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(answer.body.error).toBe('temporarily_unavailable');
      }
    },
  );

  it(
    "a client never seen before, from another address, is checked in the flood's first rounds, not after it",
    SLOW,
    async () => {
      const cold = await newClient('127.0.0.2');
      const run = await flood(cold);
      expect(run.answer.status, run.answer.text).toBe(200);
      expect(
        run.checkedAfter,
        `${run.checkedAfter} of ${run.checked} checked wrong secrets answered after it`,
      ).toBeGreaterThanOrEqual(run.checked / 2);
    },
  );
});

describe('unknown and known clients are refused alike', () => {
  it('the same status and error code, and about the same time (medians within 2x)', SLOW, async () => {
    const { clientId } = stack().arm.dev.config;
    const known: number[] = [];
    const unknown: number[] = [];
    let knownAnswer, unknownAnswer;
    for (let i = 0; i < 3; i++) {
      const k = await timed(() => tokenRequest(clientId, 'not-the-secret'));
      const u = await timed(() => tokenRequest(randomUUID(), 'not-the-secret'));
      known.push(k.ms);
      unknown.push(u.ms);
      knownAnswer = k.value;
      unknownAnswer = u.value;
    }
    expect(unknownAnswer!.status).toBe(knownAnswer!.status);
    expect(unknownAnswer!.body.error).toBe(knownAnswer!.body.error);
    expect(unknownAnswer!.body.error_codes).toEqual(knownAnswer!.body.error_codes);
    const ratio = median(unknown) / median(known);
    expect(ratio, `unknown ${median(unknown).toFixed(1)} ms, known ${median(known).toFixed(1)} ms`).toBeGreaterThan(
      0.5,
    );
    expect(ratio).toBeLessThan(2);
  });
});
