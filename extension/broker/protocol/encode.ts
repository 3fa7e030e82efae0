// Hand-rolled encoders for the packets the broker writes per message (PUBLISH without properties,
// the 2-byte acks) and per connection (a 3.1.1 CONNACK, PINGRESP). mqtt-packet's generate() builds
// an EventEmitter-based accumulator, logs and concatenates for each packet, which showed up as a
// large share of a delivery's cost; anything these do not cover falls back to it.
import mqttPacket, { type Packet } from 'mqtt-packet';

// On its first use mqtt-packet's generate() fills a cache of all 65,536 two-byte numbers as
// Buffers, 6 MiB of heap for the life of the process (0.6 KiB per connection of a 10,000-connection
// broker); the packets it still writes here are few enough to encode their numbers as they come.
mqttPacket.writeToStream.cacheNumbers = false;

const ACK_TYPES: Record<string, number> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };
const PINGRESP = Buffer.from([0xd0, 0]);

/** Encodes the common cases; undefined means "use mqtt-packet". */
export function encodeFast(packet: Packet, protocolVersion: number): Buffer | undefined {
  if (packet.cmd === 'publish') {
    if (packet.properties && hasAny(packet.properties)) return undefined;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    return encodePublish(
      packet.topic,
      payload,
      packet.qos,
      packet.retain,
      packet.dup,
      packet.messageId,
      protocolVersion === 5,
    );
  }
  if (packet.cmd === 'pingresp') return PINGRESP;
  if (packet.cmd === 'connack' && protocolVersion !== 5 && packet.returnCode !== undefined)
    return Buffer.from([0x20, 2, packet.sessionPresent ? 1 : 0, packet.returnCode]);
  const type = ACK_TYPES[packet.cmd];
  if (type === undefined) return undefined;
  const ack = packet as { messageId?: number; reasonCode?: number; properties?: object };
  // v5: reason code 0 without properties may be left out [MQTT-3.4.2.1]
  if ((ack.reasonCode ?? 0) !== 0 || (ack.properties && hasAny(ack.properties))) return undefined;
  const id = ack.messageId ?? 0;
  return Buffer.from([type, 2, id >> 8, id & 0xff]);
}

export function encodePublish(
  topic: string,
  payload: Buffer,
  qos: number,
  retain: boolean,
  dup: boolean,
  messageId: number | undefined,
  v5: boolean,
): Buffer {
  const topicLength = Buffer.byteLength(topic);
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload.length;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const buf = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  buf[0] = 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = 1;
  for (let n = remaining; ;) {
    const byte = n % 128;
    n = Math.floor(n / 128);
    buf[pos++] = n > 0 ? byte | 128 : byte;
    if (n === 0) break;
  }
  buf.writeUInt16BE(topicLength, pos);
  pos += 2;
  pos += buf.write(topic, pos, 'utf8');
  if (qos > 0) {
    buf.writeUInt16BE(messageId ?? 0, pos);
    pos += 2;
  }
  if (v5) buf[pos++] = 0; // property length 0
  payload.copy(buf, pos);
  return buf;
}

function hasAny(o: object): boolean {
  for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined) return true;
  return false;
}
