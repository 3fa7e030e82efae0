// Security of the front door: only discovery, metadata and token endpoints are anonymous; tokens of
// another tenant, for another audience or signed by another key are refused; secrets never leak.
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentFeedPath } from '../../../src/api/agent-protocol.js';
import { devCredential } from '../../support/dev-sdk.js';
import { MQ_API, startArm, type ArmHarness } from './harness.js';

let arm: ArmHarness;
beforeAll(async () => {
  arm = await startArm();
});
afterAll(async () => {
  await arm?.close();
});

const sub = () => `/subscriptions/${arm.dev.config.subscriptionId}`;

describe('anonymous access', () => {
  it.each([
    ['GET', '/metadata/endpoints?api-version=2022-09-01'],
    ['GET', '//metadata/endpoints?api-version=2022-09-01'],
  ])('%s %s is open', async (method, path) => {
    const response = await arm.anonymous(method, path);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      name: expect.any(String),
      authentication: { loginEndpoint: `${arm.url}/`, audiences: expect.any(Array) },
      suffixes: {},
    });
  });
  it.each([
    ['GET', '/subscriptions?api-version=2022-12-01'],
    ['GET', '/tenants?api-version=2022-12-01'],
    ['GET', () => `${sub()}?api-version=2022-12-01`],
    ['GET', () => `${sub()}/resourcegroups?api-version=2022-09-01`],
    ['PUT', () => `${sub()}/resourcegroups/x?api-version=2022-09-01`],
    ['POST', () => `${sub()}/providers/Microsoft.IoTOperationsMQ/register?api-version=2022-09-01`],
    ['GET', () => `${sub()}/resources?api-version=2021-04-01`],
    ['GET', () => `${sub()}/resourceGroups/iotmq-local/providers/Microsoft.IoTOperationsMQ/mq?api-version=${MQ_API}`],
    ['GET', () => `/providers/Microsoft.IoTOperationsMQ/operations?api-version=${MQ_API}`],
    ['GET', () => `${arm.dev.config.customLocationId}?api-version=2021-08-15`],
    [
      'PUT',
      () => `${sub()}/resourcegroups/iotmq-local/providers/Microsoft.Resources/deployments/d1?api-version=2022-09-01`,
    ],
  ])('%s %s needs a token (401 + WWW-Authenticate)', async (method, path) => {
    const response = await arm.anonymous(
      method,
      typeof path === 'function' ? path() : path,
      method === 'GET' ? undefined : {},
    );
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer authorization_uri=/);
    expect(response.body.error.code).toBe('AuthenticationFailed');
  });
  it('the agent API refuses anonymous callers and user tokens', async () => {
    const path = agentFeedPath(arm.dev.config.clusterId);
    expect((await arm.anonymous('GET', path)).status).toBe(401);
    // A user token is for ARM, not the RP: wrong audience.
    expect((await arm.anonymous('GET', path, undefined, { authorization: `Bearer ${await arm.token()}` })).status).toBe(
      401,
    );
    // The cluster's own agent passes the front door to the RP.
    const ok = await arm.anonymous('GET', path, undefined, { authorization: `Bearer ${await arm.agentToken()}` });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/ndjson/);
  });
});

describe('the channel between the front door and the RP', () => {
  // The RP trusts x-ms-client-* headers only because the front door is the one calling [AUTH-3/4].
  it("a user's valid RP token sent straight to the RP's loopback port → 403; the same request through the front door → 200", async () => {
    const path = `${sub()}/resourceGroups/iotmq-local/providers/Microsoft.IoTOperationsMQ/mq?api-version=${MQ_API}`;
    const direct = async (token: string) => {
      const response = await fetch(`${arm.dev.rpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: (await response.json()) as { error: { code: string; message: string } } };
    };
    const user = await direct(await arm.token('api://iotmq-rp/.default'));
    expect(user.status).toBe(403);
    expect(user.body.error.code).toBe('AuthorizationFailed');
    expect(user.body.error.message).toContain(arm.dev.config.clientId);
    // The agent's token is good for the agent API only.
    expect((await direct(await arm.agentToken())).status).toBe(403);

    const through = await arm.call('GET', path);
    expect(through.status).toBe(200);
    expect(through.body).toEqual({ value: expect.any(Array) });
  });
});

describe('tokens that must be refused', () => {
  it("another tenant's token: 401 InvalidAuthenticationTokenTenant on this subscription, and it sees no subscriptions", async () => {
    const other = crypto.randomUUID();
    arm.dev.armStore.tenants.put({ id: other, displayName: 'other' });
    const { principal, clientSecret } = await arm.dev.frontDoor.identity.createServicePrincipal({
      tenantId: other,
      displayName: 'intruder',
    });
    const credential = devCredential(arm.dev, { tenantId: other, clientId: principal.clientId, clientSecret });
    const token = (await credential.getToken('https://management.azure.com/.default'))!.token;
    const headers = { authorization: `Bearer ${token}` };
    const denied = await arm.call('GET', `${sub()}/resourcegroups?api-version=2022-09-01`, undefined, headers);
    expect(denied.status).toBe(401);
    expect(denied.body.error.code).toBe('InvalidAuthenticationTokenTenant');
    const mq = await arm.call(
      'GET',
      `${sub()}/resourceGroups/iotmq-local/providers/Microsoft.IoTOperationsMQ/mq?api-version=${MQ_API}`,
      undefined,
      headers,
    );
    expect(mq.status).toBe(401);
    expect((await arm.call('GET', '/subscriptions?api-version=2022-12-01', undefined, headers)).body.value).toEqual([]);
  });
  it('a token for another audience (the RP) → 401 InvalidAuthenticationTokenAudience', async () => {
    const response = await arm.call('GET', `${sub()}/resourcegroups?api-version=2022-09-01`, undefined, {
      authorization: `Bearer ${await arm.agentToken()}`,
    });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('InvalidAuthenticationTokenAudience');
  });
  it('a token signed by another key with our issuer → 401 InvalidAuthenticationToken', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ tid: arm.dev.config.tenantId, appid: arm.dev.config.clientId, idtyp: 'app' })
      .setProtectedHeader({ alg: 'RS256', kid: arm.dev.frontDoor.identity.signingKey.kid })
      .setIssuer(`${arm.url}/${arm.dev.config.tenantId}/v2.0`)
      .setAudience('https://management.azure.com/')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    const response = await arm.call('GET', `${sub()}/resourcegroups?api-version=2022-09-01`, undefined, {
      authorization: `Bearer ${forged}`,
    });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('InvalidAuthenticationToken');
  });
  it('an unsigned (alg none) token → 401', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({
        tid: arm.dev.config.tenantId,
        aud: 'https://management.azure.com/',
        iss: `${arm.url}/${arm.dev.config.tenantId}/v2.0`,
        exp: 9999999999,
      }),
    ).toString('base64url');
    const response = await arm.call('GET', `${sub()}/resourcegroups?api-version=2022-09-01`, undefined, {
      authorization: `Bearer ${header}.${payload}.`,
    });
    expect(response.status).toBe(401);
  });
});

describe('secrets', () => {
  it('no response of the front door carries a client secret', async () => {
    const { clientSecret, agent: agentCreds } = arm.dev.config;
    const paths = [
      '/subscriptions?api-version=2022-12-01',
      `${sub()}?api-version=2022-12-01`,
      `${sub()}/resourcegroups?api-version=2022-09-01`,
      `${sub()}/resources?api-version=2021-04-01`,
      `${sub()}/providers?api-version=2021-04-01`,
      `${arm.dev.config.clusterId}?api-version=2024-01-01`,
      `${arm.dev.config.customLocationId}?api-version=2021-08-15`,
    ];
    for (const path of paths) {
      const response = await arm.call('GET', path);
      expect(response.status, path).toBe(200);
      expect(response.text).not.toContain(clientSecret);
      expect(response.text).not.toContain(agentCreds.clientSecret);
    }
  });
});
