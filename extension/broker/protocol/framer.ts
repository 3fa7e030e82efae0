// Splits a client's byte stream into MQTT frames and decodes the hot one, PUBLISH without
// properties, by hand; every other frame is handed whole to mqtt-packet's parser, which then
// never holds a partial packet. mqtt-packet's general state machine (a BufferList, a debug call
// per step, a copy per field) was the largest share of a QoS 0 message's cost.
//
// Anything unusual (an over-long length field, a PUBLISH it cannot take apart) goes to mqtt-packet
// as it is, so errors and their reason codes are exactly mqtt-packet's.
import type { IPublishPacket, Packet } from 'mqtt-packet';

interface MqttPacketParser {
  parse(buf: Buffer): number;
  settings: { protocolVersion?: number };
}

export interface Framer {
  /** Feed bytes; frames are emitted in order while `active()` holds. */
  push(chunk: Buffer): void;
}

export function createFramer(
  parser: MqttPacketParser,
  options: {
    maximumPacketSize: number;
    emit(packet: Packet): void;
    /** A frame announced larger than the maximum: nothing more is read [MQTT-3.2.2-15]. */
    oversize(length: number): void;
    /** False once the connection is closing: the rest is dropped. */
    active(): boolean;
  },
): Framer {
  let chunks: Buffer[] = [];
  let buffered = 0;
  let needed = 0; // bytes the frame at the front needs, once its header is known
  let handOver = false; // mqtt-packet parses everything from here on
  let refused = false; // an oversized frame was announced: nothing after it is read

  function process(buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length && options.active()) {
      let i = pos + 1;
      let length = 0;
      let multiplier = 1;
      let complete = false;
      for (let n = 0; n < 4 && i < buf.length; n++) {
        const byte = buf[i++];
        length += (byte & 127) * multiplier;
        multiplier *= 128;
        if ((byte & 128) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - pos > 4) {
          // a fifth length byte: malformed, mqtt-packet says so in its words [MQTT-1.5.5]
          handOver = true;
          parser.parse(buf.subarray(pos));
          return;
        }
        break; // header not all here yet
      }
      if (length > options.maximumPacketSize) {
        refused = true;
        chunks = [];
        buffered = 0;
        return options.oversize(length);
      }
      const end = i + length;
      if (end > buf.length) {
        needed = end - pos;
        break;
      }
      const publish =
        buf[pos] >> 4 === 3 ? decodePublish(buf, pos, i, end, parser.settings.protocolVersion) : undefined;
      if (publish) options.emit(publish);
      else parser.parse(buf.subarray(pos, end));
      pos = end;
    }
    if (pos < buf.length) {
      chunks = [buf.subarray(pos)];
      buffered = buf.length - pos;
    }
  }

  return {
    push(chunk) {
      if (refused) return;
      if (handOver) {
        parser.parse(chunk);
        return;
      }
      chunks.push(chunk);
      buffered += chunk.length;
      // a large packet arrives in many chunks: join them once, when it is complete
      if (buffered < needed) return;
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, buffered);
      chunks = [];
      buffered = 0;
      needed = 0;
      process(buf);
    },
  };
}

/** PUBLISH without properties; undefined leaves the frame to mqtt-packet. */
function decodePublish(
  buf: Buffer,
  header: number,
  start: number,
  end: number,
  protocolVersion: number | undefined,
): IPublishPacket | undefined {
  const flags = buf[header];
  const qos = (flags >> 1) & 3;
  if (qos === 3) return undefined; // malformed [MQTT-3.3.1-4]: mqtt-packet reports it
  let pos = start;
  if (pos + 2 > end) return undefined;
  const topicLength = buf.readUInt16BE(pos);
  pos += 2;
  if (pos + topicLength > end) return undefined;
  const topic = buf.toString('utf8', pos, pos + topicLength);
  pos += topicLength;
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) return undefined;
    messageId = buf.readUInt16BE(pos);
    pos += 2;
  }
  if (protocolVersion === 5) {
    if (pos >= end || buf[pos] !== 0) return undefined; // properties: mqtt-packet decodes them
    pos += 1;
  }
  const packet: IPublishPacket = {
    cmd: 'publish',
    retain: (flags & 1) !== 0,
    qos: qos as 0 | 1 | 2,
    dup: (flags & 8) !== 0,
    length: end - start,
    topic,
    payload: buf.subarray(pos, end),
  };
  if (qos > 0) packet.messageId = messageId;
  return packet;
}
