// Cross-implementation check with the Python paho-mqtt client (PyPI, cached venv from
// test/peers/python.sh): paho on one side, MQTT.js on the other, over real loopback sockets, for
// MQTT 3.1.1 and 5. QoS 0/1/2 both ways, retained messages both ways, user properties and content
// type passed through (v5), and paho's will published when its connection drops.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, connectClient, startTestBroker, type Received } from './helpers.js';
import { createConfigDir, listener, portOf, startFromConfig } from './config-fixture.js';
import { startPeer } from './peer-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
let python = '';

interface PeerEvent {
  event: string;
  topic?: string;
  payload?: string;
  qos?: number;
  retain?: boolean;
  userProperties?: string[][];
  contentType?: string | null;
}

beforeAll(() => {
  // First run creates the venv (pip install); later runs reuse it through its stamp file.
  python = execFileSync('bash', [path.join(repo, 'test/peers/python.sh')], { encoding: 'utf8' }).trim();
}, 300_000);

describe.each([4, 5] as const)('paho-mqtt, protocol level %i', (version) => {
  it('exchanges QoS 0/1/2, retained and will messages with MQTT.js', async () => {
    const { url, port } = await startTestBroker();
    const prefix = `paho${version}/${Date.now()}`;
    const js = await connectClient(url, { protocolVersion: version });
    const got = collect(js);
    await js.subscribeAsync([`${prefix}/from-py/#`, `${prefix}/will`], { qos: 2 });
    // retained before paho subscribes: paho must get it with the retain flag
    await js.publishAsync(`${prefix}/from-js/retained`, 'js-retained', { qos: 1, retain: true });

    const peer = startPeer(python, [
      path.join(here, 'fixtures/paho_peer.py'),
      '127.0.0.1',
      String(port),
      String(version),
      prefix,
    ]);
    const events = (name: string): PeerEvent[] =>
      peer.lines.map((l) => JSON.parse(l) as PeerEvent).filter((e) => e.event === name);
    const connected = JSON.parse(await peer.waitForLine((l) => l.includes('"connected"'))) as { reasonCode: number };
    expect(connected.reasonCode).toBe(0);
    await peer.waitForLine((l) => l.includes('"subscribed"'));
    const subscribed = events('subscribed')[0] as PeerEvent & { granted: number[] };
    expect(subscribed.granted).toEqual([2]);

    const v5 = version === 5;
    for (const qos of [0, 1, 2] as const)
      await js.publishAsync(`${prefix}/from-js/q${qos}`, `js-${qos}`, {
        qos,
        ...(v5 ? { properties: { userProperties: { from: 'mqttjs' }, contentType: 'text/plain' } } : {}),
      });
    await peer.waitForLine((l) => l.includes('"published"'));

    // what paho received from MQTT.js
    const atPaho = events('message');
    expect(atPaho.map((m) => [m.topic, m.payload, m.qos, m.retain])).toEqual([
      [`${prefix}/from-js/retained`, 'js-retained', 1, true],
      [`${prefix}/from-js/q0`, 'js-0', 0, false],
      [`${prefix}/from-js/q1`, 'js-1', 1, false],
      [`${prefix}/from-js/q2`, 'js-2', 2, false],
    ]);
    if (v5)
      for (const m of atPaho.slice(1)) {
        expect(m.userProperties).toEqual([['from', 'mqttjs']]);
        expect(m.contentType).toBe('text/plain');
      }

    // what MQTT.js received from paho: three live messages, the retained one and the will (MQTT.js
    // hands a QoS 2 message over only at PUBREL, so arrival order varies: compare by topic)
    const fromPy: Received[] = [];
    while (fromPy.length < 5) fromPy.push(await got.next(10_000));
    const byTopic = (a: Received, b: Received): number => (a.topic < b.topic ? -1 : 1);
    fromPy.sort(byTopic);
    expect(fromPy.map((m) => [m.topic, m.payload.toString(), m.packet.qos])).toEqual([
      [`${prefix}/from-py/q0`, 'py-0', 0],
      [`${prefix}/from-py/q1`, 'py-1', 1],
      [`${prefix}/from-py/q2`, 'py-2', 2],
      [`${prefix}/from-py/retained`, 'py-retained', 1],
      [`${prefix}/will`, 'paho went away', 1],
    ]);
    if (v5) {
      expect(fromPy[2].packet.properties?.userProperties).toEqual({ from: 'paho', qos: '2' });
      expect(fromPy[2].packet.properties?.contentType).toBe('text/plain');
      expect(fromPy[4].packet.properties?.userProperties).toEqual({ origin: 'paho-will' });
    }
    expect(await peer.exited).toBe(0);

    // paho's retained message is kept for a later MQTT.js subscriber
    const late = await connectClient(url, { protocolVersion: version });
    const lateGot = collect(late);
    await late.subscribeAsync(`${prefix}/from-py/retained`, { qos: 1 });
    const r = await lateGot.next();
    expect([r.payload.toString(), r.packet.retain]).toEqual(['py-retained', true]);
  }, 60_000);
});

// The Paho interoperability suite's test_server_keep_alive: a client asking for a longer keep
// alive than the broker's maximum (60 s unless the config says otherwise) gets the broker's in
// CONNACK; so does one asking for none; one within the maximum gets no Server Keep Alive at all.
describe('paho-mqtt: Server Keep Alive (MQTT 5)', () => {
  const serverKeepAlive = async (port: number, keepalive: number): Promise<unknown> => {
    const peer = startPeer(python, [
      path.join(here, 'fixtures/paho_keepalive.py'),
      '127.0.0.1',
      String(port),
      String(keepalive),
    ]);
    const line = JSON.parse(await peer.waitForLine(() => true, 20_000)) as {
      reasonCode: number;
      serverKeepAlive: unknown;
    };
    expect(line.reasonCode).toBe(0);
    expect(await peer.exited).toBe(0);
    return line.serverKeepAlive;
  };

  it('the default maximum: 120 s and "none" become 60 s, 30 s stays', async () => {
    const running = await startFromConfig(createConfigDir().config({ listeners: [listener('l')] }));
    const port = portOf(running, 'l');
    expect(await serverKeepAlive(port, 120)).toBe(60);
    expect(await serverKeepAlive(port, 0)).toBe(60);
    expect(await serverKeepAlive(port, 30)).toBeNull();
  }, 60_000);

  it('maxKeepAlive in the config file sets the maximum', async () => {
    const running = await startFromConfig(createConfigDir().config({ listeners: [listener('l')], maxKeepAlive: 20 }));
    expect(await serverKeepAlive(portOf(running, 'l'), 120)).toBe(20);
  }, 60_000);
});
