// The hand-rolled encoders must produce exactly mqtt-packet's bytes for every case they take on,
// and decline (undefined) the ones they leave to it.
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { encodeFast } from '../../../extension/broker/protocol/encode.js';

describe('encodeFast', () => {
  const lengths = [0, 5, 120, 125, 200, 16_380, 20_000, 2_100_000];
  it.each([4, 5])('PUBLISH without properties, protocol level %i: same bytes as mqtt-packet', (v) => {
    for (const qos of [0, 1, 2] as const)
      for (const len of lengths)
        for (const retain of [true, false]) {
          const p = {
            cmd: 'publish',
            topic: 'a/ü/b',
            payload: Buffer.alloc(len, 7),
            qos,
            retain,
            dup: qos > 0 && retain,
            ...(qos > 0 ? { messageId: 513 } : {}),
          } as Packet;
          expect(encodeFast(p, v)!.equals(mqttPacket.generate(p, { protocolVersion: v })), `${qos}/${len}`).toBe(true);
        }
  });

  it('acks without reason: mqtt-packet bytes for 3.1.1, the short form for 5 [MQTT-3.4.2.1]', () => {
    for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
      const p = { cmd, messageId: 700 } as Packet;
      expect(encodeFast(p, 4)!.equals(mqttPacket.generate(p, { protocolVersion: 4 })), cmd).toBe(true);
      // v5 may leave out reason code 0 and the property length: remaining length 2, as in 3.1.1
      const parsed: Packet[] = [];
      const parser = mqttPacket.parser({ protocolVersion: 5 });
      parser.on('packet', (x: Packet) => parsed.push(x));
      parser.parse(encodeFast(p, 5)!);
      expect(parsed).toMatchObject([{ cmd, messageId: 700 }]);
      expect(encodeFast(p, 5)!.length).toBe(4);
    }
  });

  it('3.1.1 CONNACK and PINGRESP: same bytes as mqtt-packet', () => {
    const packets: Packet[] = [{ cmd: 'pingresp' }];
    for (const sessionPresent of [true, false])
      for (const returnCode of [0, 1, 5]) packets.push({ cmd: 'connack', sessionPresent, returnCode });
    for (const p of packets)
      for (const v of [3, 4])
        expect(encodeFast(p, v)!.equals(mqttPacket.generate(p, { protocolVersion: v })), JSON.stringify(p)).toBe(true);
  });

  it('leaves properties and reason codes to mqtt-packet', () => {
    expect(
      encodeFast(
        {
          cmd: 'publish',
          topic: 't',
          payload: Buffer.alloc(1),
          qos: 0,
          retain: false,
          dup: false,
          properties: { contentType: 'x' },
        },
        5,
      ),
    ).toBeUndefined();
    expect(encodeFast({ cmd: 'puback', messageId: 1, reasonCode: 0x10 }, 5)).toBeUndefined();
    expect(encodeFast({ cmd: 'suback', messageId: 1, granted: [0] }, 4)).toBeUndefined();
    expect(encodeFast({ cmd: 'connack', sessionPresent: false, reasonCode: 0 }, 5)).toBeUndefined();
  });
});
