// Splits a client's byte stream into MQTT frames and decodes the hot ones by hand (PUBLISH without
// properties, the acknowledgements without a reason code, PINGREQ); every other frame is handed
// whole to mqtt-packet. mqtt-packet's general
// state machine (a BufferList, a debug call per step, a copy per field) was the largest share of
// a QoS 0 message's cost, and as a parser per connection it was a large share of an idle
// connection's memory. Since it only ever sees whole frames here, one parser serves them all:
// nothing is left in it between frames.
//
// The framer keeps no state of its own either: an incomplete frame waits in the reader's
// `partial` (absent on an idle connection). Anything unusual (an over-long length field, a PUBLISH
// it cannot take apart) goes to mqtt-packet as it is, so errors and their reason codes are exactly
// mqtt-packet's.
import { createRequire } from 'node:module';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';

/** Bytes of a frame that has not arrived whole yet. */
export interface PartialFrame {
  chunks: Buffer[];
  buffered: number;
  /** Bytes the frame needs in all, once its header is known (0 until then). */
  needed: number;
}

/** Where frames go, and where the framer keeps an incomplete one (a connection). */
export interface FrameReader {
  partial: PartialFrame | undefined;
  readonly protocolVersion: number;
  readonly bridgeMode: boolean;
  readonly maximumPacketSize: number;
  /** False once the connection is closing: the rest is dropped. */
  readonly reading: boolean;
  packet(packet: Packet): void;
  /** What mqtt-packet said about a frame it could not parse. */
  malformed(error: Error): void;
  /**
   * A frame announced larger than the maximum: nothing more is read [MQTT-3.2.2-15]. `head` is
   * what arrived of it (a refused CONNECT still tells its protocol level).
   */
  oversize(length: number, head: Buffer): void;
}

/** Feed the bytes of one read; complete frames go to the reader in order. */
export function pushBytes(reader: FrameReader, chunk: Buffer): void {
  let buf = chunk;
  const partial = reader.partial;
  if (partial) {
    partial.chunks.push(chunk);
    partial.buffered += chunk.length;
    // a large packet arrives in many chunks: join them once, when it is complete
    if (partial.buffered < partial.needed) return;
    buf = partial.chunks.length === 1 ? partial.chunks[0] : Buffer.concat(partial.chunks, partial.buffered);
    reader.partial = undefined;
  }
  let pos = 0;
  while (pos < buf.length && reader.reading) {
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
      // a fifth length byte: malformed, mqtt-packet says so in its words [MQTT-1.5.5]
      if (i - pos > 4) return reader.malformed(asError(parseFrame(buf.subarray(pos), reader)));
      return keep(reader, buf.subarray(pos), 0); // header not all here yet
    }
    if (length > reader.maximumPacketSize) return reader.oversize(length, buf.subarray(pos));
    const end = i + length;
    if (end > buf.length) return keep(reader, buf.subarray(pos), end - pos);
    const packet = decodeHot(buf, pos, i, end, reader.protocolVersion) ?? parseFrame(buf.subarray(pos, end), reader);
    if (packet instanceof Error) return reader.malformed(packet);
    reader.packet(packet);
    pos = end;
  }
}

function keep(reader: FrameReader, rest: Buffer, needed: number): void {
  // a copy of a short remainder, so that it does not pin the whole read buffer meanwhile
  const bytes = needed === 0 || rest.length < 1024 ? Buffer.from(rest) : rest;
  reader.partial = { chunks: [bytes], buffered: bytes.length, needed };
}

function asError(result: Packet | Error): Error {
  return result instanceof Error ? result : new Error('Invalid variable byte integer');
}

// ---- the one mqtt-packet parser ------------------------------------------------------------------

interface SharedParser {
  parse(buf: Buffer): number;
  settings: object;
  error: Error | null;
  _list: { length: number };
  _stateCounter: number;
  _pos: number;
  _resetState(): void;
  on(event: 'packet', listener: (packet: Packet) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

/**
 * mqtt-packet buffers input in a `bl` BufferListStream, a full Duplex; the parser only needs its
 * BufferList half (append, consume, read*, slice). Taken from the `bl` that mqtt-packet resolves.
 */
const { BufferList } = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'))('bl') as {
  BufferList: new () => { length: number };
};

const parser = mqttPacket.parser({ protocolVersion: 4 }) as unknown as SharedParser;
parser._list = new BufferList();
let parsed: Packet | Error | undefined;
parser.on('packet', (packet) => (parsed = packet));
parser.on('error', (error) => (parsed ??= error));

/** mqtt-packet reads only these two settings; one frozen object per combination. */
const SETTINGS = new Map<number, object>();
function settingsFor(protocolVersion: number, bridgeMode: boolean): object {
  const key = protocolVersion * 2 + (bridgeMode ? 1 : 0);
  let s = SETTINGS.get(key);
  if (!s) SETTINGS.set(key, (s = Object.freeze({ protocolVersion, bridgeMode })));
  return s;
}

/** One whole frame through mqtt-packet: the packet, or the error it reported. */
export function parseFrame(frame: Buffer, reader: Pick<FrameReader, 'protocolVersion' | 'bridgeMode'>): Packet | Error {
  parsed = undefined;
  parser.settings = settingsFor(reader.protocolVersion, reader.bridgeMode);
  parser.parse(frame);
  if (parser.error || parser._list.length > 0 || parser._stateCounter !== 0) {
    // after a failure, ready for the next frame again (_resetState leaves the read position)
    parser._resetState();
    parser._list = new BufferList();
    parser._pos = 0;
  }
  return parsed ?? new Error('Packet too short');
}

const ACKS = [undefined, undefined, undefined, undefined, 'puback', 'pubrec', 'pubrel', 'pubcomp'] as const;

/**
 * The frames decoded by hand, as mqtt-packet would decode them (the same fields, so that nothing
 * downstream can tell); undefined leaves the frame to mqtt-packet.
 */
function decodeHot(
  buf: Buffer,
  header: number,
  start: number,
  end: number,
  protocolVersion: number,
): Packet | undefined {
  const first = buf[header];
  const type = first >> 4;
  if (type === 3) return decodePublish(buf, header, start, end, protocolVersion);
  const ack = ACKS[type];
  // PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id and no reason code (0, success, in MQTT 5)
  if (ack && end - start === 2 && (first & 0xf) === (ack === 'pubrel' ? 2 : 0)) {
    const packet = {
      cmd: ack,
      retain: false,
      qos: ack === 'pubrel' ? 1 : 0,
      dup: false,
      length: 2,
      topic: null,
      payload: null,
      messageId: buf.readUInt16BE(start),
    } as Packet & { reasonCode?: number };
    if (protocolVersion === 5) packet.reasonCode = 0;
    return packet;
  }
  if (first === 0xc0 && end === start) return { ...PINGREQ };
  return undefined;
}

const PINGREQ = { cmd: 'pingreq', retain: false, qos: 0, dup: false, length: 0, topic: null, payload: null } as Packet;

/** PUBLISH without properties; undefined leaves the frame to mqtt-packet. */
function decodePublish(
  buf: Buffer,
  header: number,
  start: number,
  end: number,
  protocolVersion: number,
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
