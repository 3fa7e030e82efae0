// Issue 11 item 5 (token endpoint): wrong client secrets are a lever on everyone's logins only if
// their hashing work is unbounded. Forty concurrent wrong secrets must not hold up a legitimate
// token; the flood beyond a small per-address share is refused at once with 429 + Retry-After; an
// unknown client id is refused with the same answer, after the same time, as a wrong secret.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
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
 * One token that costs one secret check, on this machine as loaded now: the unit the bounds are
 * stated in (the tests share two cores with everything else). Unbounded, a token waited for all
 * 40 checks of a flood: 10 rounds of libuv's 4 threads.
 */
const oneCheck = async () => {
  const alone = await timed(await newClient('127.0.0.2'));
  expect(alone.value.status).toBe(200);
  return alone.ms;
};

describe('the token endpoint under a flood of wrong secrets', () => {
  it('40 concurrent wrong secrets: a legitimate token is not held up, the flood beyond its share gets 429 + Retry-After', async () => {
    const { clientId, clientSecret } = stack().arm.dev.config;
    const unit = await oneCheck();
    const flood = Array.from({ length: 40 }, (_, i) => tokenRequest(clientId, `wrong-${i}`));
    const legit = await timed(() => tokenRequest(clientId, clientSecret));
    const answers = await Promise.all(flood);
    expect(legit.value.status, legit.value.text).toBe(200);
    expect(legit.ms, `one check ${unit.toFixed(0)} ms, the token ${legit.ms.toFixed(0)} ms`).toBeLessThan(
      3 * unit + 500,
    );
    const statuses = answers.map((a) => a.status);
    expect(
      statuses.every((s) => s === 401 || s === 429),
      statuses.join(','),
    ).toBe(true);
    const throttled = answers.filter((a) => a.status === 429);
    expect(throttled.length).toBeGreaterThan(20);
    for (const answer of throttled) {
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(answer.body.error).toBe('temporarily_unavailable');
    }
  });

  it('a client never seen before, from another address, waits at most a few secret checks during the flood', async () => {
    const { arm } = stack();
    const unit = await oneCheck();
    const coldClient = await newClient('127.0.0.2');
    const flood = Array.from({ length: 40 }, (_, i) => tokenRequest(arm.dev.config.clientId, `wrong-${i}`));
    const cold = await timed(coldClient);
    await Promise.all(flood);
    expect(cold.value.status, cold.value.text).toBe(200);
    // Now it waits for the checks running when it came (one round), then its own.
    expect(cold.ms, `one check ${unit.toFixed(0)} ms, during the flood ${cold.ms.toFixed(0)} ms`).toBeLessThan(
      4 * unit + 500,
    );
  });
});

describe('unknown and known clients are refused alike', () => {
  it('the same status and error code, and about the same time (medians within 2x)', async () => {
    const { clientId } = stack().arm.dev.config;
    const known: number[] = [];
    const unknown: number[] = [];
    let knownAnswer, unknownAnswer;
    for (let i = 0; i < 5; i++) {
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
