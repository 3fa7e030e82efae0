// Session takeover under concurrency [MQTT-3.1.4-3]: many clients CONNECT with one client id at
// the same moment. Each new CONNECT closes the connection before it, so the one the broker
// handled last must be the one left connected — never none, never two.
import { once } from 'node:events';
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../../extension/broker/auth/password-db.js';
import { eventually } from '../../support/eventually.js';
import { connectClient, onCleanup, startTestBroker } from './helpers.js';
import { portOf, startWithHeldAuth, startWithPasswords } from './config-fixture.js';

const CLIENTS = 300;

interface Racer {
  index: number;
  socket: net.Socket;
  /** Packets from the broker, in order. */
  packets: Packet[];
  closed: Promise<void>;
  isClosed: () => boolean;
  /** When the first packet from the broker came. */
  answeredAt?: number;
}

/** `count` raw connections, then a CONNECT with client id `same-id` on each in one go. */
async function race(
  port: number,
  version: 4 | 5,
  extra: Partial<mqttPacket.IConnectPacket> = {},
  count = CLIENTS,
): Promise<Racer[]> {
  const racers = await Promise.all(
    Array.from({ length: count }, async (_, index): Promise<Racer> => {
      const socket = net.connect(port, '127.0.0.1');
      onCleanup(() => void socket.destroy());
      socket.on('error', () => {});
      await once(socket, 'connect');
      const parser = mqttPacket.parser({ protocolVersion: version });
      const packets: Packet[] = [];
      let isClosed = false;
      const closed = once(socket, 'close').then(() => {
        isClosed = true;
      });
      const racer: Racer = { index, socket, packets, closed, isClosed: () => isClosed };
      parser.on('packet', (p: Packet) => {
        racer.answeredAt ??= Date.now();
        packets.push(p);
      });
      socket.on('data', (d) => parser.parse(d));
      return racer;
    }),
  );
  // every CONNECT goes out in the same turn of this event loop
  for (const r of racers)
    r.socket.write(
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: version,
          clientId: 'same-id',
          clean: true,
          keepalive: 60,
          ...extra,
        },
        { protocolVersion: version },
      ),
    );
  return racers;
}

/** Waits until every racer but one is closed, and returns the survivor. */
async function survivor(racers: Racer[]): Promise<Racer> {
  await eventually('all but one connection closed', () => racers.filter((r) => !r.isClosed()).length <= 1, 20_000);
  const open = racers.filter((r) => !r.isClosed());
  expect(open.length).toBe(1);
  return open[0];
}

describe.each([4, 5] as const)('%i: 300 concurrent CONNECTs with one client id', (version) => {
  it('leave exactly one connection: the one the broker accepted last', async () => {
    const { broker, port, url } = await startTestBroker();
    const racers = await race(port, version);
    const last = await survivor(racers);
    // it was accepted (CONNACK 0), and it is the session's connection in the back end
    expect(last.packets[0]).toMatchObject({
      cmd: 'connack',
      ...(version === 5 ? { reasonCode: 0 } : { returnCode: 0 }),
    });
    expect(broker.backend.stats().connectedSessions).toBe(1);
    expect(broker.connectionCount()).toBe(1);
    // every other connection got its CONNACK and then was closed (v5: DISCONNECT 0x8E)
    for (const r of racers) {
      if (r === last) continue;
      if (version === 5 && r.packets.length > 1)
        expect(r.packets.at(-1)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8e });
    }
    // and the survivor is served: a message published to it arrives
    const parser = mqttPacket.parser({ protocolVersion: version });
    const got: Packet[] = [];
    parser.on('packet', (p: Packet) => got.push(p));
    last.socket.removeAllListeners('data');
    last.socket.on('data', (d) => parser.parse(d));
    last.socket.write(
      mqttPacket.generate(
        { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'takeover/t', qos: 0 }] },
        { protocolVersion: version },
      ),
    );
    await eventually('SUBACK', () => got.some((p) => p.cmd === 'suback'));
    const pub = await connectClient(url);
    await pub.publishAsync('takeover/t', 'to the survivor', { qos: 1 });
    await eventually('message at the survivor', () => got.some((p) => p.cmd === 'publish'));
  }, 60_000);
});

it('with password hashing at its real cost, a CONNECT sent after 299 others of its client id wins, without waiting for their checks', async () => {
  const running = await startWithPasswords(`[dev]\npassword = "${await hashPassword('secret')}"\n`);
  const port = portOf(running, 'l');
  const credentials = { username: 'dev', password: Buffer.from('secret') };
  const racers = await race(port, 5, credentials, CLIENTS - 1);
  // once the broker has seen them all: most are answered (refused: too many checks waiting from
  // one address), the rest wait for their hash
  await eventually('the 299 CONNECTs seen', () => racers.filter((r) => !r.answeredAt && !r.isClosed()).length <= 40);
  const [last] = await race(port, 5, credentials, 1);
  const sent = Date.now();
  await eventually('CONNACK of the last CONNECT', () => last.packets.length > 0, 30_000);
  expect(last.packets[0]).toMatchObject({ cmd: 'connack', reasonCode: 0 });
  // it did not wait for the checks of those before it: at most the ones already being hashed
  // were accepted meanwhile, the rest were closed unanswered when it took the session
  const acceptedMeanwhile = racers.filter(
    (r) => r.answeredAt! >= sent && (r.packets[0] as { reasonCode?: number }).reasonCode === 0,
  );
  expect(acceptedMeanwhile.length).toBeLessThanOrEqual(4);
  expect(await survivor([...racers, last])).toBe(last);
  expect(running.broker.backend.stats().connectedSessions).toBe(1);
}, 60_000);

it('an earlier CONNECT whose authentication finishes later does not take over from a later one', async () => {
  const { auth, running } = await startWithHeldAuth('slow');
  const port = portOf(running, 'l');
  // the first asks a slow authentication server, the second a quick one
  const [first] = await race(port, 5, { username: 'slow' }, 1);
  await auth.asked('slow');
  const [second] = await race(port, 5, { username: 'fast' }, 1);
  await eventually('CONNACK of the second', () => second.packets.length > 0 || second.isClosed());
  expect(second.packets[0]).toMatchObject({ cmd: 'connack', reasonCode: 0 });
  auth.release();
  await first.closed;
  expect(first.packets).toEqual([]);
  // the second is still connected: a PINGREQ is answered
  second.socket.write(mqttPacket.generate({ cmd: 'pingreq' }, { protocolVersion: 5 }));
  await eventually('PINGRESP', () => second.packets.some((p) => p.cmd === 'pingresp'));
  expect(second.isClosed()).toBe(false);
  expect(running.broker.backend.stats().connectedSessions).toBe(1);
});
