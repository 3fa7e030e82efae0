// Authentication chain against real peers on loopback: the password database, X.509 client
// certificates over TLS, a TokenReview server, and a custom HTTPS authentication server.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../../extension/broker/auth/password-db.js';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../../../src/common/tls.js';
import { connectClient, connectRefused, onCleanup, rawConnect, startTestBroker } from './helpers.js';
import { createConfigDir, listener, portOf, startFromConfig, type ConfigDir } from './config-fixture.js';
import net from 'node:net';

async function passwordDb(dir: ConfigDir): Promise<void> {
  dir.secret(
    'passwords',
    'passwords.toml',
    `[alice]\npassword = "${await hashPassword('wonderland', 1000)}"\n[alice.attributes]\nfloor = "1"\n\n` +
      `[bob]\npassword = "${await hashPassword('builder', 100000)}"\n`,
  );
}

/**
 * A TokenReview endpoint with the real API's request and response shapes. It stands in for the
 * kube-apiserver until test/peers/kube lands; that real server will replace it here.
 */
async function startTokenReviewServer(tokens: Record<string, { user: string; audiences: string[] }>) {
  const requests: unknown[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/apis/authentication.k8s.io/v1/tokenreviews') {
        const review = JSON.parse(Buffer.concat(chunks).toString()) as { spec: { token: string; audiences: string[] } };
        requests.push({ review, authorization: req.headers.authorization });
        const known = tokens[review.spec.token];
        const audiences = known ? known.audiences.filter((a) => review.spec.audiences.includes(a)) : [];
        const status =
          known && audiences.length > 0
            ? { authenticated: true, audiences, user: { username: known.user } }
            : { authenticated: false, error: 'invalid token' };
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ ...review, status }));
      } else if (req.method === 'GET' && req.url === '/api/v1/namespaces/apps/serviceaccounts/sensor') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            metadata: { name: 'sensor', annotations: { 'aio-mq-broker-auth/group': 'dapr-workload', other: 'x' } },
          }),
        );
      } else res.writeHead(404).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(async () => {
    server.close();
    await once(server, 'close');
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('username/password', () => {
  it('accepts a good password, refuses a bad one with 0x86 (v5) / 4 (3.1.1), and counts failures', async () => {
    const dir = createConfigDir();
    await passwordDb(dir);
    const running = await startFromConfig(
      dir.config({
        listeners: [listener('l', { authenticationEnabled: true })],
        authentications: [
          {
            name: 'authn',
            spec: { listenerRef: ['l'], authenticationMethods: [{ usernamePassword: { secretName: 'passwords' } }] },
          },
        ],
      }),
    );
    const url = `mqtt://127.0.0.1:${portOf(running, 'l')}`;
    await connectClient(url, { username: 'alice', password: 'wonderland', protocolVersion: 5 });
    await connectClient(url, { username: 'bob', password: 'builder' });
    expect((await connectRefused(url, { username: 'alice', password: 'nope', protocolVersion: 5 })).code).toBe(0x86);
    expect((await connectRefused(url, { username: 'mallory', password: 'x', protocolVersion: 5 })).code).toBe(0x86);
    expect((await connectRefused(url, { username: 'alice', password: 'nope', protocolVersion: 4 })).code).toBe(4);
    // no credentials at all: nothing relevant → not authorized (0x87 / 5)
    expect((await connectRefused(url, { protocolVersion: 5 })).code).toBe(0x87);
    expect((await connectRefused(url, { protocolVersion: 4 })).code).toBe(5);
    expect(running.broker.metrics.get('aio_mq_authentication_failures', { listener: 'l' })).toBe(5);
    expect(running.broker.metrics.render()).toMatch(/aio_mq_authentication_failures\{listener="l"\} 5/);
  });

  it('a listener with authentication disabled lets anyone in', async () => {
    const dir = createConfigDir();
    await passwordDb(dir);
    const running = await startFromConfig(
      dir.config({
        listeners: [listener('open'), listener('closed', { authenticationEnabled: true })],
        authentications: [
          {
            name: 'authn',
            spec: {
              listenerRef: ['open', 'closed'],
              authenticationMethods: [{ usernamePassword: { secretName: 'passwords' } }],
            },
          },
        ],
      }),
    );
    await connectClient(`mqtt://127.0.0.1:${portOf(running, 'open')}`, { username: 'who', password: 'ever' });
    await connectRefused(`mqtt://127.0.0.1:${portOf(running, 'closed')}`, { username: 'who', password: 'ever' });
  });
});

describe('X.509', () => {
  it('accepts a client certificate chaining to the trusted CA, with attributes; refuses others', async () => {
    const dir = createConfigDir();
    const root = await createCertificateAuthority({ commonName: 'Contoso Root CA Cert' });
    const intermediate = await createCertificateAuthority({ commonName: 'Contoso Intermediate', issuer: root });
    const stranger = await createCertificateAuthority({ commonName: 'Stranger CA' });
    dir.configMap('client-ca', 'client_ca.pem', root.certPem);
    dir.secret(
      'x509-attrs',
      'x509Attributes.toml',
      `[root]\nsubject = "CN = Contoso Root CA Cert"\n[root.attributes]\norganization = "contoso"\n\n` +
        `[device]\nsubject = "CN = thermostat, OU = factory"\n[device.attributes]\nrole = "sensor"\n`,
    );
    const running = await startFromConfig(
      dir.config({
        listeners: [
          listener('tls', {
            authenticationEnabled: true,
            authorizationEnabled: true,
            tls: { automatic: { issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: 'x' } } },
          }),
        ],
        authentications: [
          {
            name: 'authn',
            spec: {
              listenerRef: ['tls'],
              authenticationMethods: [
                { x509: { trustedClientCaCertConfigMap: 'client-ca', attributes: { secretName: 'x509-attrs' } } },
              ],
            },
          },
        ],
        authorizations: [
          {
            name: 'authz',
            spec: {
              listenerRef: ['tls'],
              authorizationPolicies: {
                rules: [
                  { principals: { attributes: [{ role: 'sensor' }] }, brokerResources: [{ method: 'Connect' }] },
                  {
                    principals: { attributes: [{ organization: 'contoso' }] },
                    brokerResources: [{ method: 'Connect' }],
                  },
                  {
                    principals: { usernames: ['thermostat'] },
                    brokerResources: [{ method: 'Publish', topics: ['devices/{principal.username}/#'] }],
                  },
                ],
              },
            },
          },
        ],
      }),
    );
    const ca = running.listeners.get('tls')!.caFile!;
    const url = `mqtts://127.0.0.1:${portOf(running, 'tls')}`;
    const caPem = (await import('node:fs')).readFileSync(ca);
    const device = await issueClientCertificate(intermediate, { subject: 'CN=thermostat, OU=factory' });
    const other = await issueClientCertificate(intermediate, { subject: 'CN=lamp' });
    const rogue = await issueClientCertificate(stranger, { subject: 'CN=thermostat, OU=factory' });
    const c = await connectClient(url, { ca: caPem, cert: device.certPem, key: device.keyPem, protocolVersion: 5 });
    // username = leaf CN, so the Publish rule with {principal.username} applies
    await c.publishAsync('devices/thermostat/temp', '21', { qos: 1 });
    await expect(c.publishAsync('devices/lamp/temp', '21', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await connectClient(url, { ca: caPem, cert: other.certPem, key: other.keyPem, protocolVersion: 5 }); // root attributes
    expect(
      (await connectRefused(url, { ca: caPem, cert: rogue.certPem, key: rogue.keyPem, protocolVersion: 5 })).code,
    ).toBe(0x87);
  });
});

describe('Kubernetes service-account tokens', () => {
  it('validates $sat tokens through TokenReview (audience checked), with SA annotations as attributes', async () => {
    const kube = await startTokenReviewServer({
      'good-token': { user: 'system:serviceaccount:apps:sensor', audiences: ['aio-mq'] },
      'other-audience': { user: 'system:serviceaccount:apps:sensor', audiences: ['somewhere-else'] },
    });
    const dir = createConfigDir();
    dir.secret('broker-sa', 'token', 'broker-own-token\n');
    const running = await startFromConfig(
      dir.config({
        listeners: [listener('l', { authenticationEnabled: true, authorizationEnabled: true })],
        kubernetes: { tokenReviewUrl: kube.url, tokenFile: `${dir.secrets}/broker-sa/token` },
        authentications: [
          { name: 'authn', spec: { listenerRef: ['l'], authenticationMethods: [{ sat: { audiences: ['aio-mq'] } }] } },
        ],
        authorizations: [
          {
            name: 'z',
            spec: {
              listenerRef: ['l'],
              authorizationPolicies: {
                rules: [
                  {
                    principals: { attributes: [{ group: 'dapr-workload' }] },
                    brokerResources: [{ method: 'Connect' }],
                  },
                ],
              },
            },
          },
        ],
      }),
    );
    const url = `mqtt://127.0.0.1:${portOf(running, 'l')}`;
    await connectClient(url, { username: '$sat', password: 'good-token', protocolVersion: 4 });
    expect((await connectRefused(url, { username: '$sat', password: 'forged', protocolVersion: 5 })).code).toBe(0x86);
    expect((await connectRefused(url, { username: '$sat', password: 'other-audience', protocolVersion: 5 })).code).toBe(
      0x86,
    );
    expect(kube.requests[0]).toMatchObject({
      authorization: 'Bearer broker-own-token',
      review: { kind: 'TokenReview', spec: { audiences: ['aio-mq'] } },
    });
    // MQTT 5 enhanced authentication, method K8S-SAT, token as authentication data
    await connectClient(url, {
      protocolVersion: 5,
      properties: { authenticationMethod: 'K8S-SAT', authenticationData: Buffer.from('good-token') },
    });
    expect(
      (
        await connectRefused(url, {
          protocolVersion: 5,
          properties: { authenticationMethod: 'K8S-SAT', authenticationData: Buffer.from('bad') },
        })
      ).code,
    ).toBe(0x86);
  });
});

describe('custom authentication server', () => {
  it('posts credentials over mTLS; 200 accepts with attributes, 403 refuses with its reason, unreachable falls through', async () => {
    const ca = await createCertificateAuthority();
    const serverCert = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
    const brokerClient = await issueClientCertificate(ca, { subject: 'CN=broker' });
    const seen: Array<{ body: Record<string, unknown>; url: string; header: unknown; peer: string }> = [];
    const server = https.createServer(
      { cert: serverCert.certPem, key: serverCert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
          seen.push({
            body,
            url: req.url!,
            header: req.headers['x-tenant'],
            peer: String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN),
          });
          const password = Buffer.from(String(body.password), 'base64').toString();
          if (body.username === 'carol' && password === 'letmein')
            res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify({ attributes: { tier: 'gold' } }));
          else
            res
              .writeHead(403, { 'content-type': 'application/json' })
              .end(JSON.stringify({ reason: 0x8a, message: 'banned' }));
        });
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    onCleanup(async () => {
      server.close();
      await once(server, 'close');
    });
    // a port nobody listens on, for the unreachable case
    const dead = net.createServer().listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as AddressInfo).port;
    dead.close();

    const dir = createConfigDir();
    dir.configMap('auth-ca', 'ca.crt', ca.certPem);
    dir.secret('auth-client', 'tls.crt', brokerClient.certPem);
    dir.secret('auth-client', 'tls.key', brokerClient.keyPem);
    await passwordDb(dir);
    const custom = (port: number) => ({
      custom: {
        endpoint: `https://127.0.0.1:${port}/`,
        caCertConfigMap: 'auth-ca',
        auth: { x509: { secretName: 'auth-client' } },
        headers: { 'x-tenant': 'contoso' },
      },
    });
    const running = await startFromConfig(
      dir.config({
        listeners: [
          listener('l', { authenticationEnabled: true }),
          listener('fallback', { authenticationEnabled: true }),
        ],
        authentications: [
          {
            name: 'a',
            spec: { listenerRef: ['l'], authenticationMethods: [custom((server.address() as AddressInfo).port)] },
          },
          {
            name: 'b',
            spec: {
              listenerRef: ['fallback'],
              authenticationMethods: [custom(deadPort), { usernamePassword: { secretName: 'passwords' } }],
            },
          },
        ],
      }),
    );
    const url = `mqtt://127.0.0.1:${portOf(running, 'l')}`;
    await connectClient(url, { username: 'carol', password: 'letmein', protocolVersion: 5 });
    expect(seen[0]).toMatchObject({
      body: { type: 'connect', username: 'carol' },
      url: '/?api-version=0.5.0',
      header: 'contoso',
      peer: 'broker',
    });
    expect((await connectRefused(url, { username: 'carol', password: 'wrong', protocolVersion: 5 })).code).toBe(0x8a);
    await connectClient(`mqtt://127.0.0.1:${portOf(running, 'fallback')}`, {
      username: 'alice',
      password: 'wonderland',
    });
  });
});

describe('enhanced authentication hook', () => {
  it('[MQTT-4.12.0-2] runs a multi-step AUTH exchange before CONNACK', async () => {
    // A challenge/response method plugged into the hook: the server sends a nonce, the client
    // must answer with it reversed. (SAT above is the configured single-step method.)
    const { port } = await startTestBroker(
      {
        security: () => ({
          authenticate: null,
          authorizer: null,
          enhancedMethod: (name) =>
            name === 'REVERSE'
              ? {
                  name,
                  begin: () => {
                    let sent = false;
                    return {
                      async step(data) {
                        if (!sent) {
                          sent = true;
                          return { result: 'continue', authenticationData: Buffer.from('nonce') };
                        }
                        return data?.toString() === 'ecnon'
                          ? { result: 'accept', attributes: {} }
                          : { result: 'reject', reasonCode: 0x87, reason: 'wrong answer' };
                      },
                    };
                  },
                }
              : undefined,
        }),
      },
      'l',
    );
    const raw = await rawConnect(port, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'e',
      clean: true,
      keepalive: 0,
      properties: { authenticationMethod: 'REVERSE' },
    });
    expect(await raw.next()).toMatchObject({
      cmd: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: 'REVERSE', authenticationData: Buffer.from('nonce') },
    });
    raw.send({
      cmd: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: 'REVERSE', authenticationData: Buffer.from('ecnon') },
    });
    expect(await raw.next()).toMatchObject({
      cmd: 'connack',
      reasonCode: 0,
      properties: expect.objectContaining({ authenticationMethod: 'REVERSE' }),
    });
    // re-authentication [MQTT-4.12.1-1]
    raw.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'REVERSE' } });
    expect(await raw.next()).toMatchObject({ cmd: 'auth', reasonCode: 0x18 });
    raw.send({
      cmd: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: 'REVERSE', authenticationData: Buffer.from('wrong') },
    });
    expect(await raw.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x87 });
  });
});
