// Authorization end to end: Connect / Publish / Subscribe decisions with MQTT.js clients, and
// live reload of the rules.
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../../extension/broker/auth/password-db.js';
import type { AuthorizationRule, BrokerConfig } from '../../../extension/broker/config.js';
import { collect, connectClient, connectRefused, rawConnect } from './helpers.js';
import { createConfigDir, listener, portOf, startFromConfig } from './config-fixture.js';

async function setup(rules: AuthorizationRule[]) {
  const dir = createConfigDir();
  dir.secret(
    'pw',
    'passwords.toml',
    ['dev1', 'dev2', 'ops'].map((u) => `[${u}]\npassword = "${hashSync(u)}"\n`).join('\n') +
      '[dev1.attributes]\nsite = "north"\n',
  );
  const config = (r: AuthorizationRule[]): BrokerConfig =>
    dir.config({
      listeners: [listener('l', { authenticationEnabled: true, authorizationEnabled: true })],
      authentications: [
        {
          name: 'n',
          spec: { listenerRef: ['l'], authenticationMethods: [{ usernamePassword: { secretName: 'pw' } }] },
        },
      ],
      authorizations: [
        { name: 'z', spec: { listenerRef: ['l'], authorizationPolicies: { enableCache: true, rules: r } } },
      ],
    });
  const running = await startFromConfig(config(rules));
  const url = `mqtt://127.0.0.1:${portOf(running, 'l')}`;
  return { running, url, config, port: portOf(running, 'l') };
}

const hashes = new Map<string, string>();
function hashSync(user: string): string {
  return hashes.get(user)!;
}

const rules: AuthorizationRule[] = [
  { principals: { usernames: ['dev1', 'dev2', 'ops'] }, brokerResources: [{ method: 'Connect' }] },
  {
    principals: { attributes: [{ site: 'north' }] },
    brokerResources: [
      { method: 'Publish', topics: ['telemetry/{principal.username}/#'] },
      { method: 'Subscribe', topics: ['commands/{principal.clientId}', 'shared/#'] },
    ],
  },
  { principals: { usernames: ['ops'] }, brokerResources: [{ method: 'Subscribe', topics: ['telemetry/#'] }] },
];

describe('authorization', async () => {
  for (const u of ['dev1', 'dev2', 'ops']) hashes.set(u, await hashPassword(u, 1000));

  it('refuses CONNECT when no rule allows it: 0x87 (v5) / 5 (3.1.1)', async () => {
    const { url } = await setup(rules.slice(1));
    expect((await connectRefused(url, { username: 'dev1', password: 'dev1', protocolVersion: 5 })).code).toBe(0x87);
    expect((await connectRefused(url, { username: 'dev1', password: 'dev1', protocolVersion: 4 })).code).toBe(5);
  });

  it('denied PUBLISH: v5 PUBACK 0x87, 3.1.1 normal PUBACK and dropped, QoS 0 dropped', async () => {
    const { url } = await setup(rules);
    const ops = await connectClient(url, { username: 'ops', password: 'ops', protocolVersion: 5 });
    const seen = collect(ops);
    await ops.subscribeAsync('telemetry/#', { qos: 1 });
    const dev1 = await connectClient(url, { username: 'dev1', password: 'dev1', protocolVersion: 5 });
    await dev1.publishAsync('telemetry/dev1/temp', 'ok', { qos: 1 });
    expect((await seen.next()).topic).toBe('telemetry/dev1/temp');
    await expect(dev1.publishAsync('telemetry/dev2/temp', 'spoof', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await dev1.publishAsync('telemetry/dev2/temp', 'spoof0', { qos: 0 });
    const dev1v3 = await connectClient(url, { username: 'dev1', password: 'dev1', protocolVersion: 4 });
    await dev1v3.publishAsync('telemetry/dev2/temp', 'spoof3', { qos: 1 }); // acknowledged normally
    // routing finished before each PUBACK, so once 'last' arrives everything earlier is in
    await dev1.publishAsync('telemetry/dev1/temp', 'last', { qos: 1 });
    expect((await seen.next()).payload.toString()).toBe('last');
    expect(seen.messages.map((m) => m.payload.toString())).toEqual(['ok', 'last']);
  });

  it('denied SUBSCRIBE: SUBACK 0x87 (v5) / 0x80 (3.1.1) per filter', async () => {
    const { port } = await setup(rules);
    for (const version of [5, 4] as const) {
      const raw = await rawConnect(port, version);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: version,
        clientId: 'c1',
        clean: true,
        keepalive: 0,
        username: 'dev1',
        password: Buffer.from('dev1'),
      });
      expect(await raw.next()).toMatchObject({ cmd: 'connack' });
      raw.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: 'commands/c1', qos: 1 },
          { topic: 'commands/c2', qos: 1 },
          { topic: '$share/g/shared/x', qos: 0 },
        ],
      });
      const suback = (await raw.next()) as mqttPacket.ISubackPacket;
      expect(suback.granted).toEqual([1, version === 5 ? 0x87 : 0x80, 0]);
      raw.socket.destroy();
      await raw.closed;
    }
  });

  it('reload applies new rules live: connections stay, a subscription no longer allowed stops receiving', async () => {
    const { running, url, config } = await setup(rules);
    const ops = await connectClient(url, { username: 'ops', password: 'ops', protocolVersion: 5 });
    const seen = collect(ops);
    await ops.subscribeAsync('telemetry/#', { qos: 1 });
    const dev1 = await connectClient(url, { username: 'dev1', password: 'dev1', protocolVersion: 5 });
    await dev1.publishAsync('telemetry/dev1/a', 'before', { qos: 1 });
    expect((await seen.next()).payload.toString()).toBe('before');
    // ops loses its Subscribe rule but may now subscribe to alerts/#
    await running.reload(
      config([
        rules[0],
        rules[1],
        { principals: { usernames: ['ops'] }, brokerResources: [{ method: 'Subscribe', topics: ['alerts/#'] }] },
        { principals: { usernames: ['dev1'] }, brokerResources: [{ method: 'Publish', topics: ['alerts/#'] }] },
      ]),
    );
    await dev1.publishAsync('telemetry/dev1/a', 'after', { qos: 1 });
    expect(ops.connected).toBe(true);
    await ops.subscribeAsync('alerts/#', { qos: 1 });
    await expect(ops.subscribeAsync('telemetry/#', { qos: 1 })).rejects.toThrow(/Not authorized/);
    await dev1.publishAsync('telemetry/dev1/a', 'after2', { qos: 1 });
    await dev1.publishAsync('alerts/x', 'sync', { qos: 1 });
    expect((await seen.next()).payload.toString()).toBe('sync');
    expect(seen.messages.map((m) => m.payload.toString())).toEqual(['before', 'sync']);
    expect(ops.connected).toBe(true);
  });
});
