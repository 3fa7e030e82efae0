// The framer must yield exactly what mqtt-packet yields for the same frames, for any split of the
// byte stream into chunks: the same packets (decoded by hand or by mqtt-packet) and an error where it
// errs. The reference parses frame by frame: on some malformed packets (a property length past
// the end) mqtt-packet alone reads into the next packet, so its verdict would depend on what follows.
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { pushBytes, type FrameReader } from '../../../extension/broker/protocol/framer.js';
import { seededRandom } from '../../support/random.js';

const normal = (p: Packet): unknown => {
  const { length: _l, ...rest } = p as Packet & { length?: number };
  return JSON.parse(JSON.stringify(rest));
};

function viaMqttPacket(frames: Buffer[]): { packets: unknown[]; error: boolean } {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: unknown[] = [];
  let error = false;
  parser.on('packet', (p: Packet) => !error && packets.push(normal(p)));
  parser.on('error', () => (error = true));
  for (const f of frames) if (!error) parser.parse(f);
  return { packets, error };
}

function viaFramer(chunks: Buffer[]): { packets: unknown[]; error: boolean } {
  const packets: unknown[] = [];
  let error = false;
  let version = 4;
  const reader: FrameReader = {
    partial: undefined,
    get protocolVersion() {
      return version;
    },
    bridgeMode: false,
    maximumPacketSize: 1 << 20,
    get reading() {
      return !error;
    },
    packet(p) {
      // as a connection does: the CONNECT sets the protocol level of what follows
      if (p.cmd === 'connect') version = p.protocolVersion ?? 4;
      packets.push(normal(p));
    },
    malformed: () => (error = true),
    oversize: () => (error = true),
  };
  for (const c of chunks) if (!error) pushBytes(reader, c);
  return { packets, error };
}

describe('framer', () => {
  it('matches mqtt-packet on 500 random streams, well-formed and damaged, in random chunks', () => {
    const rng = seededRandom(7);
    const int = (n: number): number => Math.floor(rng() * n);
    for (let round = 0; round < 500; round++) {
      const v = rng() < 0.5 ? 4 : 5;
      const frames: Buffer[] = [
        mqttPacket.generate(
          { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: 'c', clean: true, keepalive: 0 },
          { protocolVersion: v },
        ),
      ];
      for (let i = 0, n = 1 + int(12); i < n; i++) {
        const qos = int(3) as 0 | 1 | 2;
        const packets: Packet[] = [
          {
            cmd: 'publish',
            topic: `t/${int(5)}/ü`,
            payload: Buffer.alloc(int(3) === 0 ? 20_000 : int(50), int(256)),
            qos,
            retain: rng() < 0.3,
            dup: qos > 0 && rng() < 0.3,
            ...(qos > 0 ? { messageId: 1 + int(65535) } : {}),
            ...(v === 5 && rng() < 0.3 ? { properties: { contentType: 'x', userProperties: { a: 'b' } } } : {}),
          },
          { cmd: 'subscribe', messageId: 1 + int(100), subscriptions: [{ topic: 't/#', qos: 1 }] },
          { cmd: 'pingreq' },
          { cmd: 'puback', messageId: 1 + int(100) },
          { cmd: 'pubrec', messageId: 1 + int(100) },
          { cmd: 'pubrel', messageId: 1 + int(100) },
          { cmd: 'pubcomp', messageId: 1 + int(100) },
          ...(v === 5 ? [{ cmd: 'puback', messageId: 1 + int(100), reasonCode: 0x10 } as Packet] : []),
        ];
        let frame = mqttPacket.generate(packets[int(packets.length)], { protocolVersion: v });
        const headerLength = 2 + [...frame.subarray(1, 4)].filter((b) => b & 128).length;
        if (rng() < 0.1 && frame.length > headerLength) {
          frame = Buffer.from(frame);
          frame[headerLength + int(frame.length - headerLength)] = int(256); // damage, framing kept
        }
        frames.push(frame);
      }
      if (rng() < 0.1) frames.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])); // five length bytes
      const stream = Buffer.concat(frames);
      const chunks: Buffer[] = [];
      for (let pos = 0; pos < stream.length;) {
        const n = 1 + int(rng() < 0.5 ? 8 : 4096);
        chunks.push(stream.subarray(pos, pos + n));
        pos += n;
      }
      const expected = viaMqttPacket(frames);
      const actual = viaFramer(chunks);
      expect(actual.packets, `round ${round}`).toEqual(expected.packets);
      expect(actual.error, `round ${round}`).toBe(expected.error);
    }
  });
});
