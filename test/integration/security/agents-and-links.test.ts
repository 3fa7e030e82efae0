// Issue 11 items 9 and 14: a cluster agent's credential is good for its own cluster's agent API
// and nothing else — ARM refuses it — and its batch status reports are all-or-nothing, with the
// same answer for a resource that does not exist and one of another cluster. A tenant may bind
// custom locations and MQ resources only to clusters and custom locations it may read itself.
import { beforeAll, describe, expect, it } from 'vitest';
import { agentFeedPath, agentStatusPath } from '../../../src/api/agent-protocol.js';
import { MQ_API, NS, RP_SCOPE, useSecurityStack } from './stack.js';

const stack = useSecurityStack();
const CLUSTER_API = 'api-version=2024-01-01';
const CL_API = 'api-version=2021-08-15';

describe("the agent's credential on ARM", () => {
  it('an ARM token of the agent identity is refused 403 AuthorizationFailed for reads and writes', async () => {
    const { raw, a } = stack();
    for (const [method, target, body] of [
      ['PATCH', `${a.clusterId}?${CLUSTER_API}`, { tags: { owned: 'by-agent' } }],
      ['GET', `${a.clusterId}?${CLUSTER_API}`, undefined],
      ['GET', `/subscriptions/${a.subscriptionId}?api-version=2022-12-01`, undefined],
      [
        'PUT',
        `/subscriptions/${a.subscriptionId}/resourcegroups/agent-rg?api-version=2021-04-01`,
        { location: 'eastus' },
      ],
      ['PATCH', `${a.mq}?api-version=${MQ_API}`, { tags: { owned: 'by-agent' } }],
    ] as const) {
      const response = await raw(method, target, { who: 'agent', body });
      expect(response.status, `${method} ${target}: ${response.text}`).toBe(403);
      expect(response.body.error.code).toBe('AuthorizationFailed');
    }
    const cluster = await stack().arm.call('GET', `${a.clusterId}?${CLUSTER_API}`);
    expect(cluster.body.tags?.owned).toBeUndefined();
  });

  it("the agent's RP token still serves its own cluster's feed through the front door", async () => {
    const { raw, a, token } = stack();
    const response = await raw('GET', agentFeedPath(a.clusterId), {
      who: 'anonymous',
      headers: { authorization: `Bearer ${await token('agent', RP_SCOPE)}` },
    });
    expect(response.status).toBe(200);
    expect(response.text).toContain('"type":"bookmark"');
  });
});

describe('links to resources of another tenant', () => {
  it("tenant B cannot host a custom location on A's connected cluster (403 LinkedAuthorizationFailed)", async () => {
    const { raw, a, b } = stack();
    const target = `/subscriptions/${b.subscriptionId}/resourceGroups/${b.resourceGroup}/providers/Microsoft.ExtendedLocation/customLocations/stolen?${CL_API}`;
    const body = { location: 'eastus', properties: { hostResourceId: a.clusterId, namespace: 'stolen' } };
    const response = await raw('PUT', target, { who: 'tenantB', body });
    expect(response.status, response.text).toBe(403);
    expect(response.body.error.code).toBe('LinkedAuthorizationFailed');
    // The same answer for a cluster that does not exist in A's subscription: no existence oracle.
    const missing = await raw('PUT', target, {
      who: 'tenantB',
      body: { ...body, properties: { ...body.properties, hostResourceId: `${a.clusterId}-nope` } },
    });
    expect(missing.status).toBe(403);
    expect(missing.body.error.code).toBe('LinkedAuthorizationFailed');
    expect((await raw('GET', target, { who: 'tenantB' })).status).toBe(404);
  });

  it("tenant B cannot bind an MQ resource of its own subscription to A's custom location (403)", async () => {
    const { raw, a, b, arm } = stack();
    const id = `/subscriptions/${b.subscriptionId}/resourceGroups/${b.resourceGroup}/providers/${NS}/mq/intruder`;
    const response = await raw('PUT', `${id}?api-version=${MQ_API}`, {
      who: 'tenantB',
      body: {
        location: 'eastus',
        extendedLocation: { name: a.customLocationId, type: 'CustomLocation' },
        properties: {},
      },
    });
    expect(response.status, response.text).toBe(403);
    expect(response.body.error.code).toBe('LinkedAuthorizationFailed');
    expect(await arm.dev.rpStore.resources.get(id)).toBeUndefined();
  });
});

describe("an agent's batch status report", () => {
  let other: { clusterId: string; customLocationId: string; mq: string };
  beforeAll(async () => {
    const { arm, a } = stack();
    const group = `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}`;
    other = {
      clusterId: `${group}/providers/Microsoft.Kubernetes/connectedClusters/other-cluster`,
      customLocationId: `${group}/providers/Microsoft.ExtendedLocation/customLocations/other-cl`,
      mq: `${group}/providers/${NS}/mq/on-other`,
    };
    expect(
      (await arm.call('PUT', `${other.clusterId}?${CLUSTER_API}`, { location: 'eastus', properties: {} })).status,
    ).toBe(201);
    const cl = await arm.call('PUT', `${other.customLocationId}?${CL_API}`, {
      location: 'eastus',
      properties: { hostResourceId: other.clusterId, namespace: 'other' },
    });
    expect(cl.status, cl.text).toBe(201);
    const mq = await arm.call('PUT', `${other.mq}?api-version=${MQ_API}`, {
      location: 'eastus',
      extendedLocation: { name: other.customLocationId, type: 'CustomLocation' },
      properties: {},
    });
    expect(mq.status, mq.text).toBe(201);
  });

  const post = async (reports: unknown[]) => {
    const { raw, a, token } = stack();
    return raw('POST', agentStatusPath(a.clusterId), {
      who: 'anonymous',
      body: { reports },
      headers: { authorization: `Bearer ${await token('agent', RP_SCOPE)}` },
    });
  };

  it("a report on another cluster's resource changes nothing, and is answered exactly like one on a resource that does not exist", async () => {
    const { arm } = stack();
    const foreignRow = (await arm.dev.rpStore.resources.get(other.mq))!;
    const foreign = await post([
      { resourceId: other.mq, etag: foreignRow.etag, status: 'Failed', error: { code: 'X', message: 'x' } },
    ]);
    const unknownId = other.mq.replace('on-other', 'never-made');
    const unknown = await post([{ resourceId: unknownId, etag: foreignRow.etag, status: 'Failed' }]);
    expect(foreign.status, foreign.text).toBe(unknown.status);
    expect(foreign.text.replace(other.mq, 'ID')).toBe(unknown.text.replace(unknownId, 'ID'));
    expect(
      ((await arm.dev.rpStore.resources.get(other.mq))!.body.properties as { provisioningState: string })
        .provisioningState,
    ).toBe('Accepted');
  });

  it("a batch mixing the cluster's own report with a foreign one answers for every report what happened to it", async () => {
    const { arm, a } = stack();
    const own = (await arm.dev.rpStore.resources.get(a.mq))!;
    const foreignRow = (await arm.dev.rpStore.resources.get(other.mq))!;
    const response = await post([
      // Failed: a state the fake agent of this cluster leaves alone (it converges only what is in flight).
      { resourceId: a.mq, etag: own.etag, status: 'Failed', error: { code: 'Boom', message: 'boom' } },
      { resourceId: other.mq, etag: foreignRow.etag, status: 'Succeeded' },
    ]);
    expect(response.status, response.text).toBe(200);
    expect(response.body.results).toEqual([
      { resourceId: a.mq, outcome: 'applied' },
      { resourceId: other.mq, outcome: 'stale' },
    ]);
    const state = async (id: string) =>
      ((await arm.dev.rpStore.resources.get(id))!.body.properties as { provisioningState: string }).provisioningState;
    expect(await state(a.mq)).toBe('Failed');
    expect(await state(other.mq)).toBe('Accepted');
    const back = await post([{ resourceId: a.mq, etag: own.etag, status: 'Succeeded' }]);
    expect(back.body.results).toEqual([{ resourceId: a.mq, outcome: 'applied' }]);
  });

  it('a batch with one malformed report applies none of its reports', async () => {
    const { arm, a } = stack();
    const mine = `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}/providers/${NS}/mq/batch-mine`;
    const row = (await arm.dev.rpStore.resources.get(a.mq))!;
    const before = JSON.stringify(row.body);
    const response = await post([
      { resourceId: a.mq, etag: row.etag, status: 'Failed', error: { code: 'Boom', message: 'boom' } },
      { resourceId: mine, status: 'Succeeded' },
    ]);
    expect(response.status, response.text).toBe(400);
    expect(JSON.stringify((await arm.dev.rpStore.resources.get(a.mq))!.body)).toBe(before);
  });
});
