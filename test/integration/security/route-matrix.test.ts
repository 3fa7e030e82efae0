// The adversarial suite's two tables (issue 11, "done when"), over real HTTPS against `iotmq dev`:
// 1. every identity (owner of subscription A, a principal of tenant B, the cluster's agent, ARM
//    itself, anonymous) × every route family of the front door, with the status each must get;
// 2. every path and query encoding trick × every route family × every identity: a trick either
//    means the same as the plain request (`//`, a trailing `/`, mixed case) and gets the same
//    answer, or is refused 400 for everyone — never resolved into another resource.
// (There are no role assignments in the stand-in, so there is no reader identity to test.)
import { describe, expect, it } from 'vitest';
import { MQ_API, NS, RP_SCOPE, useSecurityStack, type IdentityName, type SecurityStack } from './stack.js';

const stack = useSecurityStack();
const IDENTITIES: IdentityName[] = ['ownerA', 'tenantB', 'agent', 'arm', 'anonymous'];

interface Family {
  name: string;
  method: string;
  target: (s: SecurityStack) => string;
  body?: unknown;
  /** Which token an identity presents: ARM's audience, or the RP's (the agent API). */
  scope: 'arm' | 'rp';
  /** Routed by fastify's own (case-sensitive) router, not ARM's case-insensitive one. */
  caseSensitive?: boolean;
  expect: Record<IdentityName, number>;
}

/** Who may do what: only A's owner on A; B on its own subscription and tenant-level lists; the agent nowhere on ARM. */
const onA = { ownerA: 200, tenantB: 401, agent: 403, arm: 401, anonymous: 401 };
const anyUser = { ownerA: 200, tenantB: 200, agent: 403, arm: 401, anonymous: 401 };
const open = { ownerA: 200, tenantB: 200, agent: 200, arm: 200, anonymous: 200 };

const FAMILIES: Family[] = [
  {
    name: 'subscription list',
    method: 'GET',
    target: () => '/subscriptions?api-version=2022-12-01',
    scope: 'arm',
    expect: anyUser,
  },
  {
    name: 'subscription A',
    method: 'GET',
    target: (s) => `/subscriptions/${s.a.subscriptionId}?api-version=2022-12-01`,
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'subscription B',
    method: 'GET',
    target: (s) => `/subscriptions/${s.b.subscriptionId}?api-version=2022-12-01`,
    scope: 'arm',
    expect: { ownerA: 401, tenantB: 200, agent: 403, arm: 401, anonymous: 401 },
  },
  {
    name: 'resource group',
    method: 'GET',
    target: (s) => `/subscriptions/${s.a.subscriptionId}/resourcegroups/${s.a.resourceGroup}?api-version=2021-04-01`,
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'provider registration',
    method: 'GET',
    target: (s) => `/subscriptions/${s.a.subscriptionId}/providers/${NS}?api-version=2021-04-01`,
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'generic resources',
    method: 'GET',
    target: (s) => `/subscriptions/${s.a.subscriptionId}/resources?api-version=2021-04-01`,
    scope: 'arm',
    expect: onA,
  },
  { name: 'MQ resource', method: 'GET', target: (s) => `${s.a.mq}?api-version=${MQ_API}`, scope: 'arm', expect: onA },
  {
    name: 'MQ resource PATCH',
    method: 'PATCH',
    target: (s) => `${s.a.mq}?api-version=${MQ_API}`,
    body: { tags: { matrix: 'yes' } },
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'MQ collection',
    method: 'GET',
    target: (s) =>
      `/subscriptions/${s.a.subscriptionId}/resourceGroups/${s.a.resourceGroup}/providers/${NS}/mq?api-version=${MQ_API}`,
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'provider operations (no subscription)',
    method: 'GET',
    target: () => `/providers/${NS}/operations?api-version=${MQ_API}`,
    scope: 'arm',
    expect: anyUser,
  },
  {
    name: 'deployments',
    method: 'GET',
    target: (s) =>
      `/subscriptions/${s.a.subscriptionId}/resourcegroups/${s.a.resourceGroup}/providers/Microsoft.Resources/deployments?api-version=2021-04-01`,
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'connected cluster',
    method: 'GET',
    target: (s) => `${s.a.clusterId}?api-version=2024-01-01`,
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'custom location',
    method: 'GET',
    target: (s) => `${s.a.customLocationId}?api-version=2021-08-15`,
    scope: 'arm',
    expect: onA,
  },
  {
    name: 'cloud metadata',
    method: 'GET',
    target: () => '/metadata/endpoints?api-version=2022-09-01',
    scope: 'arm',
    expect: open,
  },
  {
    name: 'agent API feed',
    method: 'GET',
    target: (s) => `/agent/v1/clusters/${encodeURIComponent(s.a.clusterId)}/resources`,
    scope: 'rp',
    caseSensitive: true,
    // B's tokens are not of the RP's directory; A's own principals are not the cluster's identity.
    expect: { ownerA: 403, tenantB: 401, agent: 200, arm: 403, anonymous: 401 },
  },
  {
    name: 'identity discovery',
    method: 'GET',
    target: (s) => `/${s.arm.dev.config.tenantId}/v2.0/.well-known/openid-configuration`,
    scope: 'arm',
    caseSensitive: true,
    expect: open,
  },
  {
    name: 'identity keys',
    method: 'GET',
    target: (s) => `/${s.arm.dev.config.tenantId}/discovery/v2.0/keys`,
    scope: 'arm',
    caseSensitive: true,
    expect: open,
  },
];

async function send(s: SecurityStack, family: Family, who: IdentityName, target: string) {
  // ARM itself holds a token for the RP only: at the front door it is a token for the wrong audience.
  const scope = family.scope === 'rp' || who === 'arm' ? RP_SCOPE : undefined;
  const token = await s.token(who, scope);
  return s.raw(family.method, target, {
    who: 'anonymous',
    body: family.body,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

function expectArmError(response: { status: number; body: unknown; text: string }, label: string): void {
  if (response.status < 400) return;
  const error = (response.body as { error?: unknown } | undefined)?.error;
  // The identity endpoints answer in AAD's shape (`error` is a string); everything else in ARM's.
  if (typeof error === 'string') return;
  expect(error, `${label}: ${response.text.slice(0, 200)}`).toMatchObject({
    code: expect.any(String),
    message: expect.any(String),
  });
}

describe('identity × route family', () => {
  for (const family of FAMILIES) {
    it(`${family.method} ${family.name}`, async () => {
      const s = stack();
      const got: Record<string, number> = {};
      for (const who of IDENTITIES) {
        const response = await send(s, family, who, family.target(s));
        got[who] = response.status;
        expectArmError(response, `${family.name} as ${who}`);
      }
      expect(got).toEqual(family.expect);
    });
  }
});

type Variant = {
  name: string;
  apply: (path: string, query: string) => string;
  /** 'same': the plain request's answer; 400: refused for everyone; '4xx': some client error, never 2xx/5xx. */
  expect: 'same' | 400 | '4xx';
  /** 'same' holds on ARM's routes; fastify's own (identity, agent API) may refuse it instead (4xx, never 2xx where denied). */
  armRouterOnly?: true;
};

/** `/a/b/c` with `insert` after the first segment: `/a<insert>/b/c`. */
const afterFirst = (path: string, insert: string) => {
  const second = path.indexOf('/', 1);
  return second === -1 ? `${path}${insert}` : `${path.slice(0, second)}${insert}${path.slice(second)}`;
};
/** The separator after the first segment replaced by `separator`. */
const firstSeparator = (path: string, separator: string) => {
  const second = path.indexOf('/', 1);
  return second === -1 ? `${path}${separator}x` : `${path.slice(0, second)}${separator}${path.slice(second + 1)}`;
};
const LITERALS =
  /\/(subscriptions|resourcegroups|resourceGroups|providers|metadata|endpoints|resources|operations|agent|clusters|discovery|keys|mq|v1|v2\.0|openid-configuration)(?=\/|$)/g;
const apiVersionOf = (query: string) => /[?&]api-version=([^&]*)/.exec(query)?.[1] ?? MQ_API;
/** The query with an api-version in it (one is added where the route takes none). */
const withApiVersion = (query: string) => query || `?api-version=${MQ_API}`;

const VARIANTS: Variant[] = [
  { name: '/x/..', apply: (p, q) => afterFirst(p, '/x/..') + q, expect: 400 },
  { name: '/x/%2e%2e', apply: (p, q) => afterFirst(p, '/x/%2e%2e') + q, expect: 400 },
  { name: '/x/%2E.', apply: (p, q) => afterFirst(p, '/x/%2E.') + q, expect: 400 },
  { name: '/x/.%2e', apply: (p, q) => afterFirst(p, '/x/.%2e') + q, expect: 400 },
  { name: '/.', apply: (p, q) => afterFirst(p, '/.') + q, expect: 400 },
  { name: '/%2e', apply: (p, q) => afterFirst(p, '/%2e') + q, expect: 400 },
  { name: 'trailing /..', apply: (p, q) => `${p}/..${q}`, expect: 400 },
  { name: 'trailing /.', apply: (p, q) => `${p}/.${q}`, expect: 400 },
  { name: '%2f separator', apply: (p, q) => firstSeparator(p, '%2f') + q, expect: 400 },
  { name: '%2F separator', apply: (p, q) => firstSeparator(p, '%2F') + q, expect: 400 },
  { name: '%5c separator', apply: (p, q) => firstSeparator(p, '%5c') + q, expect: 400 },
  { name: '\\ separator', apply: (p, q) => firstSeparator(p, '\\') + q, expect: 400 },
  { name: '%00 in a segment', apply: (p, q) => `${p}%00${q}`, expect: 400 },
  {
    name: 'duplicated api-version',
    apply: (p, q) => `${p}${withApiVersion(q)}&api-version=${apiVersionOf(q)}`,
    expect: 400,
  },
  {
    name: 'api-version twice, case differs',
    apply: (p, q) => `${p}${withApiVersion(q)}&API-Version=${apiVersionOf(q)}`,
    expect: 400,
  },
  { name: '// separators', apply: (p, q) => `/${p.replace(/\//g, '//')}${q}`, expect: 'same' },
  { name: 'trailing /', apply: (p, q) => `${p}/${q}`, expect: 'same', armRouterOnly: true },
  { name: 'trailing dot on the last segment', apply: (p, q) => `${p}.${q}`, expect: '4xx' },
  { name: 'trailing dots segment (...)', apply: (p, q) => `${p}/...${q}`, expect: '4xx' },
  {
    name: 'mixed-case literals',
    apply: (p, q) => p.replace(LITERALS, (segment) => segment.toUpperCase()) + q,
    expect: 'same',
    armRouterOnly: true,
  },
];

describe('encoding variant × route family × identity', () => {
  for (const family of FAMILIES) {
    it(`${family.method} ${family.name}: ${VARIANTS.length} variants`, async () => {
      const s = stack();
      const plain = family.target(s);
      const mark = plain.indexOf('?');
      const [path, query] = mark === -1 ? [plain, ''] : [plain.slice(0, mark), plain.slice(mark)];
      const failures: string[] = [];
      for (const variant of VARIANTS) {
        const target = variant.apply(path, query);
        for (const who of IDENTITIES) {
          const response = await send(s, family, who, target);
          const want =
            variant.expect !== 'same'
              ? variant.expect
              : variant.armRouterOnly && family.caseSensitive && target !== plain
                ? `${family.expect[who]} or 4xx`
                : family.expect[who];
          const ok =
            want === '4xx'
              ? response.status >= 400 && response.status < 500
              : typeof want === 'string'
                ? response.status === family.expect[who] || (response.status >= 400 && response.status < 500)
                : response.status === want;
          if (!ok)
            failures.push(
              `${variant.name} as ${who}: ${target} → ${response.status} (want ${want}) ${response.text.slice(0, 120)}`,
            );
          if (want === 400 && typeof response.body === 'object' && response.body?.error?.code) {
            if (!['InvalidRequestUri', 'InvalidQueryParameter'].includes(response.body.error.code))
              failures.push(`${variant.name} as ${who}: code ${response.body.error.code}`);
          }
        }
      }
      expect(failures).toEqual([]);
    });
  }
});

describe("the RP's loopback port: only ARM itself on ARM routes, only the cluster on its agent API", () => {
  const direct = async (who: IdentityName, method: string, target: string, body?: unknown) => {
    const s = stack();
    const token = await s.token(who, RP_SCOPE);
    return s.raw(method, target, {
      who: 'anonymous',
      base: s.arm.dev.rpUrl,
      body,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  };
  const table: {
    name: string;
    method: string;
    target: (s: SecurityStack) => string;
    body?: (s: SecurityStack) => unknown;
    expect: Record<IdentityName, number>;
  }[] = [
    {
      name: 'GET an MQ resource',
      method: 'GET',
      target: (s) => `${s.a.mq}?api-version=${MQ_API}`,
      expect: { ownerA: 403, tenantB: 401, agent: 403, arm: 200, anonymous: 401 },
    },
    {
      name: 'subscription lifecycle PUT (no client headers)',
      method: 'PUT',
      target: (s) => `/subscriptions/${s.a.subscriptionId}?api-version=2.0`,
      body: (s) => ({ state: 'Registered', properties: { tenantId: s.arm.dev.config.tenantId } }),
      expect: { ownerA: 403, tenantB: 401, agent: 403, arm: 200, anonymous: 401 },
    },
    {
      name: 'agent API feed',
      method: 'GET',
      target: (s) => `/agent/v1/clusters/${encodeURIComponent(s.a.clusterId)}/resources`,
      expect: { ownerA: 403, tenantB: 401, agent: 200, arm: 403, anonymous: 401 },
    },
  ];
  for (const row of table) {
    it(row.name, async () => {
      const s = stack();
      const got: Record<string, number> = {};
      for (const who of IDENTITIES) got[who] = (await direct(who, row.method, row.target(s), row.body?.(s))).status;
      expect(got).toEqual(row.expect);
      expect((await s.arm.dev.rpStore.subscriptions.get(s.a.subscriptionId))?.state).toBe('Registered');
    });
  }
});
