// Issue 11 item 1: a token of another tenant must never reach subscription A's resources or its
// lifecycle through a path the front door authorised one way and the RP read another — dot
// segments (plain, percent-encoded, any case), encoded separators, backslashes, or a duplicated
// api-version that the two sides read differently. Requests are sent byte for byte (--path-as-is).
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { MQ_API, NS, useSecurityStack } from './stack.js';

const stack = useSecurityStack();

/** What the owner of A sees afterwards: the victim unchanged, no resource made by the intruder. */
async function victimUntouched(): Promise<void> {
  const { arm, a } = stack();
  const victim = await arm.call('GET', `${a.mq}?api-version=${MQ_API}`);
  expect(victim.status).toBe(200);
  expect(victim.body.tags).toBeUndefined();
  const planted = await arm.call(
    'GET',
    `/subscriptions/${a.subscriptionId}/resourceGroups/no-such-rg/providers/${NS}/mq/planted?api-version=${MQ_API}`,
  );
  expect(planted.status).toBe(404);
  expect(
    await arm.dev.rpStore.resources.get(
      `/subscriptions/${a.subscriptionId}/resourceGroups/no-such-rg/providers/${NS}/mq/planted`,
    ),
  ).toBeUndefined();
}

describe('dot segments after the subscription-less provider route (tenant B token)', () => {
  const escapes = ['..', '%2e%2e', '%2E%2E', '%2e.', '.%2E', '..\\..'];
  for (const up of escapes) {
    it(`GET /providers/${NS}/${up}/${up}/subscriptions/A/… is refused with 400 InvalidRequestUri`, async () => {
      const { raw, a } = stack();
      const target = `/providers/${NS}/${up}/${up}${a.mq}?api-version=${MQ_API}`;
      const response = await raw('GET', target, { who: 'tenantB' });
      expect(response.status, response.text).toBe(400);
      expect(response.body.error.code).toBe('InvalidRequestUri');
      expect(response.text).not.toContain('"provisioningState"');
    });
  }

  it('PUT and PATCH through `..` into A (even into a resource group that does not exist) are refused', async () => {
    const { raw, a } = stack();
    const body = {
      location: 'eastus',
      extendedLocation: { name: a.customLocationId, type: 'CustomLocation' },
      properties: {},
    };
    const planted = `/subscriptions/${a.subscriptionId}/resourceGroups/no-such-rg/providers/${NS}/mq/planted`;
    const put = await raw('PUT', `/providers/${NS}/../..${planted}?api-version=${MQ_API}`, { who: 'tenantB', body });
    expect(put.status, put.text).toBe(400);
    const patch = await raw('PATCH', `/providers/${NS}/%2e%2e/%2e%2e${a.mq}?api-version=${MQ_API}`, {
      who: 'tenantB',
      body: { tags: { owned: 'by-b' } },
    });
    expect(patch.status, patch.text).toBe(400);
    await victimUntouched();
  });

  it("a duplicated api-version cannot reach A's subscription lifecycle (state stays Registered)", async () => {
    const { raw, a, arm } = stack();
    for (const [who, target] of [
      ['tenantB', `/providers/${NS}/../../subscriptions/${a.subscriptionId}?api-version=2.0&api-version=${MQ_API}`],
      ['tenantB', `/providers/${NS}/../../subscriptions/${a.subscriptionId}?api-version=${MQ_API}&api-version=2.0`],
      ['ownerA', `/subscriptions/${a.subscriptionId}/providers/${NS}/..?api-version=2.0&api-version=${MQ_API}`],
    ] as const) {
      const response = await raw('PUT', target, { who, body: { state: 'Deleted', properties: {} } });
      expect(response.status, `${who} ${target}: ${response.text}`).toBe(400);
    }
    expect((await arm.dev.rpStore.subscriptions.get(a.subscriptionId))?.state).toBe('Registered');
    await victimUntouched();
  });

  it('a duplicated api-version is refused on its own (400), whichever value comes first', async () => {
    const { raw, a } = stack();
    for (const query of [
      `api-version=${MQ_API}&api-version=2.0`,
      `api-version=2.0&api-version=${MQ_API}`,
      `api-version=${MQ_API}&API-Version=${MQ_API}`,
    ]) {
      const response = await raw('GET', `${a.mq}?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error.code, query).toBe('InvalidQueryParameter');
    }
  });
});

describe('the RP takes subscription lifecycle calls from ARM itself only', () => {
  it("the front door's token with a user's x-ms-client-* headers (a forwarded call) is refused 403", async () => {
    const { raw, a, arm, token } = stack();
    const response = await raw('PUT', `/subscriptions/${a.subscriptionId}?api-version=2.0`, {
      base: arm.dev.rpUrl,
      who: 'anonymous',
      body: { state: 'Warned', properties: {} },
      headers: {
        authorization: `Bearer ${await token('arm', 'api://iotmq-rp/.default')}`,
        'x-ms-client-tenant-id': stack().b.tenantId,
        'x-ms-client-principal-name': stack().b.clientId,
      },
    });
    expect(response.status, response.text).toBe(403);
    expect(response.body.error.code).toBe('AuthorizationFailed');
    expect((await arm.dev.rpStore.subscriptions.get(a.subscriptionId))?.state).toBe('Registered');
  });
});

describe('requests the HTTP parser cannot read', () => {
  /** Bytes straight onto a TLS connection to the front door; resolves with all it answered before closing. */
  const sendBytes = (bytes: Buffer) =>
    new Promise<string>((resolve, reject) => {
      const { arm } = stack();
      const url = new URL(arm.url);
      const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: arm.dev.caPem }, () =>
        socket.end(bytes),
      );
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });

  it.each([
    [
      'a raw non-ASCII byte in the path',
      Buffer.concat([
        Buffer.from('GET /subscriptions/caf'),
        Buffer.from([0xe9]),
        Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
      ]),
    ],
    ['a space inside the target', Buffer.from('GET /a b/c HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a header line without a colon', Buffer.from('GET /subscriptions HTTP/1.1\r\nHost: x\r\nbroken\r\n\r\n')],
  ])("%s → 400 in ARM's error shape, connection closed", async (_name, bytes) => {
    const answer = await sendBytes(bytes);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
      error: { code: string; message: string };
    };
    expect(body.error.code).toBe('MalformedHttpRequest');
  });
});
