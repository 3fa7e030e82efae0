// The identity stand-in as MSAL, @azure/identity and the az CLI use it [AAD-1..7], over HTTPS.
import Database from 'better-sqlite3';
import path from 'node:path';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devCredential } from '../../support/dev-sdk.js';
import { startArm, type ArmHarness } from './harness.js';

let arm: ArmHarness;
beforeAll(async () => {
  arm = await startArm();
});
afterAll(async () => {
  await arm?.close();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('[AAD-1] discovery and keys', () => {
  it('v2 OpenID configuration with the tenant as first segment of token_endpoint', async () => {
    const { tenantId } = arm.dev.config;
    const response = await arm.anonymous('GET', `/${tenantId}/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      issuer: `${arm.url}/${tenantId}/v2.0`,
      token_endpoint: `${arm.url}/${tenantId}/oauth2/v2.0/token`,
      authorization_endpoint: `${arm.url}/${tenantId}/oauth2/v2.0/authorize`,
      jwks_uri: `${arm.url}/${tenantId}/discovery/v2.0/keys`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });
  it('ADFS layout: /adfs/.well-known/openid-configuration (what MSAL asks for an authority ending in /adfs)', async () => {
    const response = await arm.anonymous('GET', '/adfs/.well-known/openid-configuration');
    expect(response.status).toBe(200);
    expect(response.body.token_endpoint).toBe(`${arm.url}/adfs/oauth2/token`);
  });
  it('unknown tenant → 400 in AAD shape', async () => {
    const response = await arm.anonymous(
      'GET',
      '/00000000-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration',
    );
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_tenant');
  });
  it('JWKS publishes the RS256 key with kid', async () => {
    const response = await arm.anonymous('GET', `/${arm.dev.config.tenantId}/discovery/v2.0/keys`);
    expect(response.body.keys).toEqual([
      expect.objectContaining({ kty: 'RSA', use: 'sig', kid: expect.any(String), n: expect.any(String), e: 'AQAB' }),
    ]);
    expect(response.body.keys[0].d).toBeUndefined();
  });
});

describe('[AAD-2, AAD-3] client credentials', () => {
  it('@azure/identity ClientSecretCredential gets an ARM token with the claims ARM reads', async () => {
    const token = await arm.token('https://management.azure.com/.default');
    const keys = await arm.anonymous('GET', `/${arm.dev.config.tenantId}/discovery/v2.0/keys`);
    const { payload } = await jwtVerify(token, createLocalJWKSet(keys.body), { algorithms: ['RS256'] });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', kid: keys.body.keys[0].kid });
    expect(payload).toMatchObject({
      aud: 'https://management.azure.com',
      iss: `${arm.url}/${arm.dev.config.tenantId}/v2.0`,
      tid: arm.dev.config.tenantId,
      appid: arm.dev.config.clientId,
      azp: arm.dev.config.clientId,
      idtyp: 'app',
      ver: '2.0',
      oid: expect.any(String),
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });
  it('client_secret_basic and the CLI scope with the double slash', async () => {
    const { tenantId, clientId, clientSecret } = arm.dev.config;
    const response = await arm.anonymous(
      'POST',
      `/${tenantId}/oauth2/v2.0/token`,
      form({
        grant_type: 'client_credentials',
        scope: 'https://management.core.windows.net//.default offline_access openid profile',
      }),
      {
        ...FORM,
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600 });
    expect(decodeJwt(response.body.access_token).aud).toBe('https://management.core.windows.net/');
  });
  it('v1 endpoint with resource= issues a v1 token (iss without /v2.0, appid)', async () => {
    const { tenantId, clientId, clientSecret } = arm.dev.config;
    const response = await arm.anonymous(
      'POST',
      `/${tenantId}/oauth2/token`,
      form({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        resource: 'https://management.core.windows.net/',
      }),
      FORM,
    );
    expect(response.status).toBe(200);
    expect(response.body.resource).toBe('https://management.core.windows.net/');
    const claims = decodeJwt(response.body.access_token);
    expect(claims).toMatchObject({ iss: `${arm.url}/${tenantId}/`, ver: '1.0', appid: clientId, appidacr: '1' });
  });
  it('ADFS token endpoint issues tokens of the dev tenant', async () => {
    const { clientId, clientSecret, tenantId } = arm.dev.config;
    const response = await arm.anonymous(
      'POST',
      '/adfs/oauth2/token',
      form({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: 'https://management.core.windows.net//.default',
      }),
      FORM,
    );
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token).tid).toBe(tenantId);
  });
  it('wrong secret → 401 invalid_client AADSTS7000215 in AAD shape', async () => {
    const { tenantId, clientId } = arm.dev.config;
    const response = await arm.anonymous(
      'POST',
      `/${tenantId}/oauth2/v2.0/token`,
      form({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: 'not-the-secret',
        scope: 'https://management.azure.com/.default',
      }),
      FORM,
    );
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({
      error: 'invalid_client',
      error_codes: [7000215],
      trace_id: expect.any(String),
      correlation_id: expect.any(String),
      timestamp: expect.any(String),
    });
    expect(response.body.error_description).toMatch(/^AADSTS7000215: /);
  });
  it('@azure/identity reports the AAD error for a wrong secret', async () => {
    const credential = devCredential(arm.dev, { clientSecret: 'wrong' });
    await expect(credential.getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS7000215/);
  });
  it.each([
    ['an unknown resource', { scope: 'https://vault.azure.net/.default' }, 'invalid_resource'],
    ['a scope without /.default', { scope: 'https://management.azure.com/user_impersonation' }, 'invalid_scope'],
    ['another grant type', { grant_type: 'password' }, 'unsupported_grant_type'],
  ])('%s is refused', async (_name, fields, error) => {
    const { tenantId, clientId, clientSecret } = arm.dev.config;
    const response = await arm.anonymous(
      'POST',
      `/${tenantId}/oauth2/v2.0/token`,
      form({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: 'https://management.azure.com/.default',
        ...fields,
      }),
      FORM,
    );
    expect(response.status).toBe(400);
    expect(response.body.error).toBe(error);
  });
  it("the cluster's agent principal gets tokens for the RP carrying xms_mirid = the cluster id", async () => {
    const claims = decodeJwt(await arm.agentToken());
    expect(claims).toMatchObject({ aud: 'api://iotmq-rp', xms_mirid: arm.dev.config.clusterId, idtyp: 'app' });
  });
  it('secrets are stored as scrypt hashes only', async () => {
    const db = new Database(path.join(arm.dataDir, 'arm.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT secret_hash FROM principals').all() as { secret_hash: string }[];
      expect(rows.length).toBeGreaterThanOrEqual(4);
      for (const row of rows) expect(row.secret_hash).toMatch(/^scrypt\$131072\$8\$1\$[\w-]+\$[\w-]+$/);
      const all = JSON.stringify(db.prepare('SELECT * FROM principals').all());
      expect(all).not.toContain(arm.dev.config.clientSecret);
      expect(all).not.toContain(arm.dev.config.agent.clientSecret);
    } finally {
      db.close();
    }
  });
});
