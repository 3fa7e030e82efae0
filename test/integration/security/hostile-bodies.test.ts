// Issue 11 items 8 and 10: bodies that skipped validation or broke the server. Property names that
// are also names of Object.prototype members are unknown properties like any other (400, never
// stored or pushed to the cluster); bodies too wide or too deep answer a 4xx ARM error, never 500.
import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import { MQ_API, NS, useSecurityStack } from './stack.js';

const stack = useSecurityStack();
/** A broker under the victim mq: its update schema has properties (mq's has tags only). */
const broker = () => `${stack().a.mq}/broker/default?api-version=${MQ_API}`;
beforeAll(async () => {
  const { arm, a } = stack();
  const created = await arm.call('PUT', broker(), {
    location: 'eastus',
    extendedLocation: { name: a.customLocationId, type: 'CustomLocation' },
    properties: SAMPLES.Broker!.properties,
  });
  expect(created.status, created.text).toBe(201);
});
const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf'];

const mqBody = (properties: string) =>
  `{"location":"eastus","extendedLocation":{"name":"${stack().a.customLocationId}","type":"CustomLocation"},"properties":${properties}}`;
const mqPath = (name: string) =>
  `/subscriptions/${stack().a.subscriptionId}/resourceGroups/${stack().a.resourceGroup}/providers/${NS}/mq/${name}?api-version=${MQ_API}`;

describe('property names of Object.prototype are unknown properties', () => {
  for (const name of PROTOTYPE_NAMES) {
    it(`PUT with properties.${name} → 400 InvalidRequestProperties naming it; nothing stored`, async () => {
      const { arm } = stack();
      // Raw JSON text: `__proto__` as an own key, exactly as a client sends it.
      const response = await arm.call(
        'PUT',
        mqPath(`proto-${PROTOTYPE_NAMES.indexOf(name)}`),
        mqBody(`{"${name}":"x"}`),
      );
      expect(response.status, response.text).toBe(400);
      expect(response.body.error.code).toBe('InvalidRequestProperties');
      expect(response.body.error.target).toBe(`properties.${name}`);
      expect((await arm.call('GET', mqPath(`proto-${PROTOTYPE_NAMES.indexOf(name)}`))).status).toBe(404);
    });

    it(`PUT with ${name} at the top level and PATCH with properties.${name} → 400`, async () => {
      const { arm, a } = stack();
      const top = await arm.call(
        'PUT',
        mqPath('proto-top'),
        `{"${name}":{"a":1},"location":"eastus","extendedLocation":{"name":"${a.customLocationId}","type":"CustomLocation"},"properties":{}}`,
      );
      expect(top.status, top.text).toBe(400);
      expect(top.body.error.target).toBe(name);
      const patch = await arm.call('PATCH', broker(), `{"properties":{"${name}":{"x":1}}}`);
      expect(patch.status, patch.text).toBe(400);
      expect(patch.body.error.target).toBe(`properties.${name}`);
    });
  }

  it('a tag named like a prototype member is an ordinary tag (kept as given)', async () => {
    const { arm, a } = stack();
    const patch = await arm.call(
      'PATCH',
      `${a.mq}?api-version=${MQ_API}`,
      '{"tags":{"constructor":"c","__proto__":"p"}}',
    );
    expect(patch.status, patch.text).toBe(200);
    expect(JSON.parse(patch.text).tags).toEqual(JSON.parse('{"constructor":"c","__proto__":"p"}'));
    const cleared = await arm.call('PATCH', `${a.mq}?api-version=${MQ_API}`, { tags: {} });
    expect(cleared.status).toBe(200);
  });
});

describe('bodies too wide or too deep get a 4xx ARM error', () => {
  it('150,000 unknown properties → 400 InvalidRequestProperties with a bounded list of details', async () => {
    const { arm } = stack();
    const properties = `{${Array.from({ length: 150_000 }, (_, i) => `"p${i}":1`).join(',')}}`;
    const response = await arm.call('PUT', mqPath('wide'), mqBody(properties));
    expect(response.status, response.text.slice(0, 300)).toBe(400);
    expect(response.body.error.code).toBe('InvalidRequestProperties');
    expect(response.body.error.details.length).toBeLessThanOrEqual(100);
    expect(response.body.error.message).toContain('150000');
    expect(response.text.length).toBeLessThan(64 * 1024);
  });

  it('an MQ body nested 10,000 deep → 400 InvalidRequestContent', async () => {
    const { arm } = stack();
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const response = await arm.call('PUT', mqPath('deep'), mqBody(`{"x":${deep}}`));
    expect(response.status, response.text.slice(0, 300)).toBe(400);
    expect(response.body.error.code).toBe('InvalidRequestContent');
    expect(response.body.error.message).toMatch(/nested deeper than \d+ levels/);
  });

  it('connected-cluster tags nested 10,000 deep → 400; tags of other than strings → 400', async () => {
    const { arm, a } = stack();
    const cluster = `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}/providers/Microsoft.Kubernetes/connectedClusters/deep?api-version=2024-01-01`;
    const deep = `{"location":"eastus","tags":{"t":${'['.repeat(10_000)}${']'.repeat(10_000)}},"properties":{}}`;
    const nested = await arm.call('PUT', cluster, deep);
    expect(nested.status, nested.text.slice(0, 300)).toBe(400);
    expect(nested.body.error.code).toBe('InvalidRequestContent');
    const notString = await arm.call('PUT', cluster, { location: 'eastus', tags: { t: { a: 1 } }, properties: {} });
    expect(notString.status, notString.text).toBe(400);
    expect(notString.body.error.target).toBe('tags.t');
    const group = await arm.call(
      'PUT',
      `/subscriptions/${a.subscriptionId}/resourcegroups/tagged?api-version=2021-04-01`,
      { location: 'eastus', tags: { t: [1] } },
    );
    expect(group.status, group.text).toBe(400);
    expect((await arm.call('GET', cluster)).status).toBe(404);
  });

  it('the server keeps serving afterwards', async () => {
    const { arm, a } = stack();
    expect((await arm.call('GET', `${a.mq}?api-version=${MQ_API}`)).status).toBe(200);
  });
});

describe('before authentication', () => {
  /**
   * Sends a request head announcing a 4 MB body and the body's first bytes only; what comes back
   * within 5 s. Unless the server answers before reading the body, nothing does.
   */
  const announce = (base: string, method: string, target: string) => {
    const { arm } = stack();
    const url = new URL(base);
    const head =
      `${method} ${target} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${4 * 1024 * 1024 - 1}\r\n\r\n{"tags":`;
    return new Promise<string>((resolve, reject) => {
      const port = Number(url.port);
      const socket =
        url.protocol === 'https:'
          ? tls.connect({ host: url.hostname, port, ca: arm.dev.caPem }, () => socket.write(head))
          : net.connect(port, url.hostname, () => socket.write(head));
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(text);
      }, 5000);
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('\r\n\r\n') && text.includes('}}')) {
          clearTimeout(timer);
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
    });
  };

  it('a PUT to the front door announcing a 4 MB body without a token is answered 401 before the body is sent', async () => {
    const { arm, a } = stack();
    const answer = await announce(arm.url, 'PUT', `${a.mq}?api-version=${MQ_API}`);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"code":"AuthenticationFailed"');
    // The agent's status intake, passed through to the RP: refused at the front door already.
    const status = await announce(arm.url, 'POST', `/agent/v1/clusters/${encodeURIComponent(a.clusterId)}/status`);
    expect(status).toMatch(/^HTTP\/1\.1 401 /);
  });

  it("the RP's port does the same, for ARM's routes and the agent's status intake", async () => {
    const { arm, a } = stack();
    for (const [method, target] of [
      ['PUT', `${a.mq}?api-version=${MQ_API}`],
      ['POST', `/agent/v1/clusters/${encodeURIComponent(a.clusterId)}/status`],
    ] as const) {
      const answer = await announce(arm.dev.rpUrl, method, target);
      expect(answer, target).toMatch(/^HTTP\/1\.1 401 /);
    }
  });
});
