// Bad input never breaks the RP: a few thousand generated malformed requests (seeded, so a failure
// reproduces) — broken JSON, wrong types, unknown api-versions, hostile names, huge bodies, wrong
// ETags, concurrent conflicting PUTs — must each get a 4xx in ARM's error shape, never a 5xx, and
// leave every stored resource exactly as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import { completeOperations } from './agent-client.js';
import { API, CLUSTER, CUSTOM_LOCATION, registerSubscription, rg, startRp, type RpHarness } from './harness.js';
import { seededRandom } from '../../support/random.js';

let rp: RpHarness;
const paths = {
  mq: `${rg()}/mq/fuzz-mq`,
  broker: `${rg()}/mq/fuzz-mq/broker/broker`,
  listener: `${rg()}/mq/fuzz-mq/broker/broker/listener/listener`,
};
const bodies: Record<string, Record<string, unknown>> = {
  mq: {
    location: 'eastus',
    extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
    properties: SAMPLES.Mq!.properties,
  },
  broker: {
    location: 'eastus',
    extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
    properties: SAMPLES.Broker!.properties,
  },
  listener: {
    location: 'eastus',
    extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
    properties: SAMPLES.BrokerListener!.properties,
  },
};

async function snapshot(): Promise<string> {
  const rows = [];
  for (const path of Object.values(paths)) {
    const row = await rp.store.resources.get(path);
    rows.push({ id: row?.id, etag: row?.etag, body: row?.body });
  }
  return JSON.stringify(rows);
}

beforeAll(async () => {
  rp = await startRp();
  await registerSubscription(rp);
  for (const key of ['mq', 'broker', 'listener'] as const) {
    const response = await rp.call('PUT', `${paths[key]}?${API}`, bodies[key]);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    await completeOperations(rp.url, await rp.agentToken(), CLUSTER);
  }
});
afterAll(() => rp.close());

type Case = { method: string; path: string; body?: string; headers?: Record<string, string> };

/** Replaces one leaf (or container) of a JSON value with a value of another type. */
function mutateType(value: unknown, random: () => number): unknown {
  const wrong = (v: unknown): unknown => {
    if (typeof v === 'string') return random() < 0.5 ? 12345 : { nested: true };
    if (typeof v === 'number') return random() < 0.5 ? 'not-a-number' : [v];
    if (typeof v === 'boolean') return 'yes';
    if (Array.isArray(v)) return 'not-an-array';
    if (v && typeof v === 'object') return random() < 0.5 ? ['not', 'an', 'object'] : 42;
    return 'x';
  };
  const clone = structuredClone(value) as Record<string, unknown>;
  // Walk down a random path inside `properties`, then break the type where we stop.
  let parent: Record<string, unknown> | unknown[] = clone;
  let key: string | number = 'properties';
  for (let depth = 0; depth < 6; depth++) {
    const current: unknown = (parent as Record<string, unknown>)[key as string];
    const keys = current && typeof current === 'object' ? Object.keys(current) : [];
    if (keys.length === 0 || random() < 0.3) break;
    parent = current as Record<string, unknown>;
    key = keys[Math.floor(random() * keys.length)]!;
    if (Array.isArray(parent)) key = Number(key);
  }
  (parent as Record<string, unknown>)[key as string] = wrong((parent as Record<string, unknown>)[key as string]);
  return clone;
}

const HOSTILE_NAMES = [
  '..',
  '..%2F..%2Fetc',
  '%00null',
  'a%2Fb',
  '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
  'x'.repeat(300),
  '%E2%80%AEevil',
  'name%20with%20space',
  '-'.repeat(2),
  '%FF%FE',
  'caf%C3%A9-naïve',
  "quote'quote",
  'semi;colon',
  '%25%25%25',
];

function generate(random: () => number): Case {
  const keys = ['mq', 'broker', 'listener'] as const;
  const key = keys[Math.floor(random() * keys.length)]!;
  const path = paths[key];
  const valid = JSON.stringify(bodies[key]);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  switch (Math.floor(random() * 9)) {
    case 0: // broken JSON
      return {
        method: pick(['PUT', 'PATCH']),
        path: `${path}?${API}`,
        body: valid.slice(0, Math.floor(random() * (valid.length - 1))),
        headers: { 'content-type': 'application/json' },
      };
    case 1: // wrong types
      return {
        method: 'PUT',
        path: `${path}?${API}`,
        body: JSON.stringify(mutateType(bodies[key], random)),
        headers: { 'content-type': 'application/json' },
      };
    case 2: // unknown api-versions
      return {
        method: pick(['GET', 'PUT', 'DELETE']),
        path: `${path}?api-version=${pick(['2020-01-01', 'latest', '', '2023-10-04', '2023-10-04-preview%00', "'; DROP TABLE x"])}`,
        body: valid,
        headers: { 'content-type': 'application/json' },
      };
    case 3: // hostile names
      return {
        method: pick(['GET', 'PUT', 'DELETE', 'PATCH']),
        path: `${rg()}/mq/${pick(HOSTILE_NAMES)}?${API}`,
        body: valid,
        headers: { 'content-type': 'application/json' },
      };
    case 4: // wrong ETags on existing resources
      return {
        method: pick(['PUT', 'PATCH', 'DELETE']),
        path: `${path}?${API}`,
        body: JSON.stringify({ ...bodies[key], tags: { changed: 'yes' } }),
        headers: { 'content-type': 'application/json', 'if-match': `"${Math.floor(random() * 1e9)}"` },
      };
    case 5: // not JSON at all, or the wrong media type
      return {
        method: 'PUT',
        path: `${path}?${API}`,
        body: String.fromCharCode(...Array.from({ length: 64 }, () => Math.floor(random() * 256))),
        headers: { 'content-type': pick(['application/json', 'text/plain', 'application/xml']) },
      };
    case 6: // bodies that are JSON but not objects, miss required members or change what may not change
      return {
        method: pick(['PUT', 'PATCH']),
        path: `${path}?${API}`,
        body: pick([
          '[]',
          '"text"',
          '42',
          'null',
          'true',
          '{"tags":{"a":1}}',
          '{"location":"westus"}',
          '{"properties":{"provisioningState":"Failed"}}',
        ]),
        headers: { 'content-type': 'application/json' },
      };
    case 7: // nonsense queries and methods
      return {
        method: pick(['POST', 'OPTIONS', 'GET']),
        path: `${rg()}/mq?${API}&$top=${pick(['-1', 'abc', '0', '99999'])}&$skipToken=${pick(['garbage', '%%', ''])}`,
        headers: {},
      };
    default: // If-None-Match: * on what exists
      return {
        method: 'PUT',
        path: `${path}?${API}`,
        body: valid,
        headers: { 'content-type': 'application/json', 'if-none-match': '*' },
      };
  }
}

describe('malformed requests', () => {
  it('get a 4xx ARM error every time and change nothing (3,000 requests, seed 20231004)', async () => {
    const before = await snapshot();
    const random = seededRandom(20231004);
    const failures: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const c = generate(random);
      const response = await rp
        .call(c.method, c.path, c.body, c.headers ?? {})
        .catch((error: Error) => ({ status: 0, headers: new Headers(), body: error.message }));
      const ok =
        response.status >= 400 &&
        response.status < 500 &&
        (c.method === 'HEAD' ||
          (typeof response.body?.error?.code === 'string' && typeof response.body?.error?.message === 'string'));
      if (!ok)
        failures.push(
          `#${i} ${c.method} ${c.path.slice(0, 120)} → ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`,
        );
    }
    expect(failures.slice(0, 10)).toEqual([]);
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
