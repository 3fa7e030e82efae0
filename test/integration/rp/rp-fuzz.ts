// The RP body fuzzer: generator and oracle, shared by the seeded run in npm test (fuzz.test.ts)
// and the long run (bench/fuzz-rp.ts, `npm run bench -- fuzz-rp`). Every generated request is
// invalid by construction — broken JSON, wrong types, unknown api-versions, hostile names and
// paths, wrong ETags, other media types, non-objects, nonsense queries, property names of
// Object.prototype, bodies too deep or too wide, random unknown trees — so the oracle is simple:
// a 4xx in ARM's error shape every time, never a 5xx or a dropped connection, and the stored
// resources exactly as they were.
import { SAMPLES } from '../../../scripts/specs/samples.js';
import { rawRequest } from '../../support/raw-http.js';
import { completeOperations } from './agent-client.js';
import { API, CLUSTER, CUSTOM_LOCATION, registerSubscription, rg, type RpHarness } from './harness.js';

export const FUZZ_PATHS = {
  mq: `${rg()}/mq/fuzz-mq`,
  broker: `${rg()}/mq/fuzz-mq/broker/broker`,
  listener: `${rg()}/mq/fuzz-mq/broker/broker/listener/listener`,
};
type Key = keyof typeof FUZZ_PATHS;
const KEYS = Object.keys(FUZZ_PATHS) as Key[];
const envelope = (properties: unknown) => ({
  location: 'eastus',
  extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
  properties,
});
export const FUZZ_BODIES: Record<Key, Record<string, unknown>> = {
  mq: envelope(SAMPLES.Mq!.properties),
  broker: envelope(SAMPLES.Broker!.properties),
  listener: envelope(SAMPLES.BrokerListener!.properties),
};

export interface FuzzCase {
  kind: string;
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

/** Creates the three resources every case aims at, completed by the cluster. */
export async function prepareFuzzTargets(rp: RpHarness): Promise<void> {
  await registerSubscription(rp);
  for (const key of KEYS) {
    const response = await rp.call('PUT', `${FUZZ_PATHS[key]}?${API}`, FUZZ_BODIES[key]);
    if (response.status !== 201)
      throw new Error(`creating ${key}: ${response.status} ${JSON.stringify(response.body)}`);
    await completeOperations(rp.url, await rp.agentToken(), CLUSTER);
  }
}

/** The stored rows of the targets, to compare before and after. */
export async function fuzzSnapshot(rp: RpHarness): Promise<string> {
  const rows = [];
  for (const path of Object.values(FUZZ_PATHS)) {
    const row = await rp.store.resources.get(path);
    rows.push({ id: row?.id, etag: row?.etag, body: row?.body });
  }
  return JSON.stringify(rows);
}

const PROTOTYPE_NAMES = [
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__proto__',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
];

const HOSTILE_NAMES = [
  '..',
  '..%2F..%2Fetc',
  '%2e%2e',
  '%00null',
  'a%2Fb',
  'a%5Cb',
  '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
  'x'.repeat(300),
  '%E2%80%AEevil',
  'name%20with%20space',
  '-'.repeat(2),
  '%FF%FE',
  'caf%C3%A9-na%C3%AFve',
  "quote'quote",
  'semi;colon',
  '%25%25%25',
];

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

/** JSON text of `body` with `"name": value` added to a random object inside `properties` (as raw text: `__proto__` stays a key). */
function withUnknownKey(body: Record<string, unknown>, name: string, value: string, random: () => number): string {
  const marker = '"__fuzz_marker__"';
  const clone = structuredClone(body) as Record<string, unknown>;
  let target = clone.properties as Record<string, unknown>;
  for (let depth = 0; depth < 4 && random() < 0.5; depth++) {
    const objects = Object.entries(target).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v));
    if (objects.length === 0) break;
    target = objects[Math.floor(random() * objects.length)]![1] as Record<string, unknown>;
  }
  target.__fuzz_marker__ = 0;
  return JSON.stringify(clone).replace(`${marker}:0`, `${JSON.stringify(name)}:${value}`);
}

/** A random JSON tree whose root object has at least one key no resource type defines. */
function randomTree(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 5 ? 4 : 6));
  switch (pick) {
    case 0:
      return Math.floor(random() * 2 ** 53) * (random() < 0.5 ? -1 : 1);
    case 1:
      return String.fromCharCode(
        ...Array.from({ length: Math.floor(random() * 12) }, () => 32 + Math.floor(random() * 0xfff0)),
      );
    case 2:
      return random() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomTree(random, depth + 1));
    default: {
      const tree: Record<string, unknown> = {};
      for (let i = 0; i < 1 + Math.floor(random() * 4); i++)
        tree[`fz${Math.floor(random() * 1e6)}`] = randomTree(random, depth + 1);
      return tree;
    }
  }
}

export function generateFuzzCase(random: () => number): FuzzCase {
  const key = KEYS[Math.floor(random() * KEYS.length)]!;
  const path = FUZZ_PATHS[key];
  const valid = JSON.stringify(FUZZ_BODIES[key]);
  const json = { 'content-type': 'application/json' };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  switch (Math.floor(random() * 14)) {
    case 0:
      return {
        kind: 'broken JSON',
        method: pick(['PUT', 'PATCH']),
        path: `${path}?${API}`,
        body: valid.slice(0, Math.floor(random() * (valid.length - 1))),
        headers: json,
      };
    case 1:
      return {
        kind: 'wrong types',
        method: 'PUT',
        path: `${path}?${API}`,
        body: JSON.stringify(mutateType(FUZZ_BODIES[key], random)),
        headers: json,
      };
    case 2:
      return {
        kind: 'unknown api-version',
        method: pick(['GET', 'PUT', 'DELETE']),
        path: `${path}?api-version=${pick(['2020-01-01', 'latest', '', '2023-10-04', '2023-10-04-preview%00', '%27%3B%20DROP%20TABLE%20x', `2023-10-04-preview&api-version=2.0`])}`,
        body: valid,
        headers: json,
      };
    case 3:
      return {
        kind: 'hostile name',
        method: pick(['GET', 'PUT', 'DELETE', 'PATCH']),
        path: `${rg()}/mq/${pick(HOSTILE_NAMES)}${pick(['', '/broker/x', '/..', '/%2e%2e/%2e%2e'])}?${API}`,
        body: valid,
        headers: json,
      };
    case 4:
      return {
        kind: 'wrong ETag',
        method: pick(['PUT', 'PATCH', 'DELETE']),
        path: `${path}?${API}`,
        body: JSON.stringify({ ...FUZZ_BODIES[key], tags: { changed: 'yes' } }),
        headers: { ...json, 'if-match': `"${Math.floor(random() * 1e9)}"` },
      };
    case 5:
      return {
        kind: 'not JSON',
        method: 'PUT',
        path: `${path}?${API}`,
        body: String.fromCharCode(...Array.from({ length: 64 }, () => Math.floor(random() * 256))),
        headers: { 'content-type': pick(['application/json', 'text/plain', 'application/xml']) },
      };
    case 6:
      return {
        kind: 'not an object / change not allowed',
        method: pick(['PUT', 'PATCH']),
        path: `${path}?${API}`,
        body: pick([
          '[]',
          '"text"',
          '42',
          'null',
          'true',
          '{"tags":{"a":1}}',
          '{"tags":{"a":{"b":"c"}}}',
          '{"tags":[]}',
          '{"location":"westus"}',
          '{"properties":{"provisioningState":"Failed"}}',
        ]),
        headers: json,
      };
    case 7:
      return {
        kind: 'nonsense query',
        method: pick(['POST', 'OPTIONS', 'GET']),
        path: `${rg()}/mq?${API}&$top=${pick(['-1', 'abc', '0', '99999'])}&$skipToken=${pick(['garbage', '%%', ''])}`,
        headers: {},
      };
    case 8:
      return {
        kind: 'prototype property name',
        method: pick(['PUT', 'PATCH']),
        path: `${path}?${API}`,
        body: withUnknownKey(
          FUZZ_BODIES[key],
          pick(PROTOTYPE_NAMES),
          pick(['"x"', '{"a":1}', '[1]', 'null', '0']),
          random,
        ),
        headers: json,
      };
    case 9: {
      const depth = 65 + Math.floor(random() * 3000);
      const [open, close] = random() < 0.5 ? ['{"a":', '}'] : ['[', ']'];
      return {
        kind: 'too deep',
        method: pick(['PUT', 'PATCH']),
        path: `${path}?${API}`,
        body: withUnknownKey(FUZZ_BODIES[key], 'deep', `${open.repeat(depth)}1${close.repeat(depth)}`, random),
        headers: json,
      };
    }
    case 10: {
      const count = 1 + Math.floor(random() * 20_000);
      const wide = `{${Array.from({ length: count }, (_, i) => `"w${i}":${i}`).join(',')}}`;
      return {
        kind: 'too wide',
        method: 'PUT',
        path: `${path}?${API}`,
        body: withUnknownKey(FUZZ_BODIES[key], 'wide', wide, random),
        headers: json,
      };
    }
    case 11:
      return {
        kind: 'random unknown tree',
        method: pick(['PUT', 'PATCH']),
        path: `${path}?${API}`,
        body: withUnknownKey(
          FUZZ_BODIES[key],
          `fz${Math.floor(random() * 1e6)}`,
          JSON.stringify(randomTree(random, 0)),
          random,
        ),
        headers: json,
      };
    case 12:
      return {
        kind: 'dot segments and encoded separators',
        method: pick(['GET', 'PUT', 'PATCH', 'DELETE']),
        path: `${path.replace('/mq/', pick(['/mq/../mq/', '/mq/%2e%2e/mq/', '/mq%2ffuzz-mq/..%2f', '/mq/.%2E/mq/', '/mq\\..\\']))}?${API}`,
        body: valid,
        headers: json,
      };
    default:
      return {
        kind: 'if-none-match on what exists',
        method: 'PUT',
        path: `${path}?${API}`,
        body: valid,
        headers: { ...json, 'if-none-match': '*' },
      };
  }
}

export interface FuzzResult {
  cases: number;
  /** Cases that broke the oracle: 5xx, a 2xx/3xx, no ARM error shape, a dropped connection. */
  failures: string[];
  /** Status and error code counts, e.g. `400 InvalidRequestProperties`. */
  outcomes: Record<string, number>;
}

/**
 * Runs `cases` generated cases from `seed` against the RP, `concurrency` at a time. A failure names
 * the case number: the same seed and count replay it.
 */
export async function runRpFuzz(
  rp: RpHarness,
  options: { seed: number; cases: number; concurrency?: number; onProgress?: (done: number) => void },
  random: () => number,
): Promise<FuzzResult> {
  const failures: string[] = [];
  const outcomes: Record<string, number> = {};
  let next = 0;
  let done = 0;
  const authorization = `Bearer ${await rp.token()}`;
  const worker = async () => {
    while (next < options.cases) {
      const i = next++;
      const c = generateFuzzCase(random);
      // Sent as generated: a URL-based client would resolve the dot segments before the RP saw them.
      const response = await rawRequest(rp.url, undefined, c.method, c.path, c.body, {
        authorization,
        ...c.headers,
      }).catch((error: Error) => ({ status: 0, body: error.message }));
      const code = typeof response.body?.error?.code === 'string' ? response.body.error.code : '';
      const label = `${response.status} ${code}`.trim();
      outcomes[label] = (outcomes[label] ?? 0) + 1;
      const ok =
        response.status >= 400 &&
        response.status < 500 &&
        (c.method === 'HEAD' || (code !== '' && typeof response.body?.error?.message === 'string'));
      if (!ok)
        failures.push(
          `seed ${options.seed} #${i} ${c.kind}: ${c.method} ${c.path.slice(0, 120)} → ${response.status} ${String(JSON.stringify(response.body) ?? '').slice(0, 200)}`,
        );
      options.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 1 }, worker));
  return { cases: options.cases, failures, outcomes };
}
