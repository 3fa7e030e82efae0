// Reads packets off a connection's stream and hands them, one at a time, to the handler for
// their family. The only place that turns a ProtocolError into CONNACK / DISCONNECT (the
// mosquitto read_handle.c habit): handlers just throw.
import { createRequire } from 'node:module';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { handleAck } from './ack.js';
import { handleAuth } from './auth.js';
import { handleConnect } from './connect.js';
import type { Connection } from './connection.js';
import { handleDisconnect } from './disconnect.js';
import { handlePing } from './ping.js';
import { createFramer } from './framer.js';
import { ProtocolError } from './protocol-error.js';
import { handlePublish } from './publish.js';
import { ReasonCode, v3ConnackCode } from './reason-codes.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

type Handler = (conn: Connection, packet: never) => Promise<void> | void;

const handlers: Partial<Record<Packet['cmd'], Handler>> = {
  connect: handleConnect,
  publish: handlePublish,
  puback: handleAck,
  pubrec: handleAck,
  pubrel: handleAck,
  pubcomp: handleAck,
  subscribe: handleSubscribe,
  unsubscribe: handleUnsubscribe,
  pingreq: handlePing,
  disconnect: handleDisconnect,
  auth: handleAuth,
};

/**
 * mqtt-packet buffers input in a `bl` BufferListStream, a full Duplex stream per connection; the
 * parser only needs its BufferList half (append, consume, read*, slice), which is a third of the
 * size: a saving on every idle connection. Taken from the `bl` that mqtt-packet itself resolves.
 */
const { BufferList } = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'))('bl') as {
  BufferList: new () => unknown;
};

export function attachDispatcher(conn: Connection): void {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  (parser as unknown as { _list: unknown })._list = new BufferList();
  const { stream, ctx } = conn;
  // Packets are handled strictly one after another. A handler that finishes synchronously (QoS 0
  // PUBLISH, PINGREQ, …) runs at once; only while an asynchronous one is pending do later packets
  // wait in a promise chain. (A chain link for every packet was a large share of a QoS 0 message.)
  let tail: Promise<void> | undefined;
  const enqueue = (step: () => Promise<void> | void): void => {
    if (tail) {
      const next: Promise<void> = tail.then(step).catch((err: unknown) => conn.log.error({ err }, 'dispatch failed'));
      tail = next;
      void next.then(() => tail === next && (tail = undefined));
      return;
    }
    const pending = step();
    if (!pending) return;
    tail = pending;
    void pending.then(() => tail === pending && (tail = undefined));
  };
  const handle = (packet: Packet): Promise<void> | void => {
    try {
      const pending = dispatch(conn, packet);
      if (pending) return pending.catch((err: unknown) => fail(conn, err));
    } catch (err) {
      fail(conn, err);
    }
  };

  const connectTimer = setTimeout(() => {
    if (conn.state === 'awaiting-connect' || conn.state === 'authenticating') {
      conn.log.debug('no CONNECT in time');
      conn.terminate({ publishWill: false });
    }
  }, ctx.limits.connectTimeout * 1000);
  connectTimer.unref();

  const onPacket = (packet: Packet): void => {
    if (packet.cmd === 'connect') {
      // mqtt-packet keeps the whole CONNECT (password, will payload) as its settings for the
      // life of the connection; it reads only these two fields from it
      const { protocolVersion, bridgeMode } = packet as typeof packet & { bridgeMode?: boolean };
      const settings = { protocolVersion, bridgeMode };
      (parser as unknown as { settings: object }).settings = settings;
    }
    conn.touch();
    enqueue(() => handle(packet));
  };
  parser.on('packet', onPacket);
  parser.on('error', (err: Error) => {
    // Anything mqtt-packet cannot parse is a Malformed Packet [MQTT-1.5.4-1, MQTT-2.2.2-2, …];
    // an unknown protocol level gets CONNACK 0x01/0x84 first [MQTT-3.1.2-2].
    const code = /protocol version/i.test(err.message)
      ? ReasonCode.UnsupportedProtocolVersion
      : ReasonCode.MalformedPacket;
    enqueue(() => fail(conn, new ProtocolError(code, err.message)));
  });

  const tooLarge = (declared: number): void => {
    // Refuse an oversized packet from its header, before buffering its body [MQTT-3.2.2-15]
    enqueue(() =>
      fail(conn, new ProtocolError(ReasonCode.PacketTooLarge, `packet of ${declared} bytes exceeds the maximum`)),
    );
    stream.pause();
  };
  const framer = createFramer(parser as unknown as Parameters<typeof createFramer>[0], {
    maximumPacketSize: ctx.limits.maximumPacketSize,
    emit: onPacket,
    oversize: tooLarge,
    active: () => conn.state !== 'closed',
  });
  stream.on('data', (chunk: Buffer) => {
    if (conn.state === 'closed') return;
    framer.push(chunk);
    // after a malformed length field mqtt-packet parses on its own: it may have read a header too
    const declared = (parser as unknown as { packet: { length: number } }).packet.length;
    if (declared > ctx.limits.maximumPacketSize) tooLarge(declared);
  });
  const closed = (): void => {
    clearTimeout(connectTimer);
    // Closed without DISCONNECT: the will is published [MQTT-3.1.2-8]
    enqueue(() => conn.terminate({ publishWill: true }));
  };
  stream.on('close', closed);
  stream.on('end', closed);
  stream.on('error', (err) => {
    conn.log.debug({ err }, 'stream error');
    closed();
  });
}

function dispatch(conn: Connection, packet: Packet): Promise<void> | void {
  if (conn.state === 'closed') return;
  if (conn.state === 'awaiting-connect' && packet.cmd !== 'connect') {
    // The first packet from the client must be CONNECT [MQTT-3.1.0-1]
    return conn.terminate({ publishWill: false });
  }
  if (conn.state !== 'awaiting-connect' && packet.cmd === 'connect')
    throw new ProtocolError(ReasonCode.ProtocolError, 'second CONNECT'); // [MQTT-3.1.0-2]
  if (conn.state === 'authenticating' && packet.cmd !== 'auth')
    throw new ProtocolError(ReasonCode.ProtocolError, `${packet.cmd} during authentication`); // [MQTT-3.1.2-30 ff.]
  if (packet.length !== undefined && packet.length + 5 > conn.ctx.limits.maximumPacketSize) {
    // exact check now that the whole packet is known (header ≤ 5 bytes)
    const size = mqttPacket.generate(packet, { protocolVersion: conn.protocolVersion }).length;
    if (size > conn.ctx.limits.maximumPacketSize)
      throw new ProtocolError(ReasonCode.PacketTooLarge, `packet of ${size} bytes exceeds the maximum`);
  }
  const handler = handlers[packet.cmd];
  if (!handler) throw new ProtocolError(ReasonCode.ProtocolError, `unexpected ${packet.cmd} from a client`);
  conn.log.debug({ cmd: packet.cmd }, 'packet');
  return (handler as (c: Connection, p: Packet) => Promise<void> | void)(conn, packet);
}

/** Map a handler failure to what the client sees. */
function fail(conn: Connection, err: unknown): void {
  if (conn.state === 'closed') return;
  const pe =
    err instanceof ProtocolError
      ? err
      : new ProtocolError(ReasonCode.UnspecifiedError, err instanceof Error ? err.message : String(err));
  if (!(err instanceof ProtocolError)) conn.log.error({ err }, 'handler failed');
  else conn.log.info({ reasonCode: pe.reasonCode, reason: pe.message }, 'protocol error');
  if (conn.state === 'connected') {
    return conn.terminate({ reasonCode: pe.reasonCode, reasonString: pe.message, publishWill: true });
  }
  // Before the session exists, a refusal is a CONNACK [MQTT-3.2.2-6 ff.]
  refuseConnect(conn, pe.reasonCode, pe.message);
}

export function refuseConnect(conn: Connection, reasonCode: number, reason: string): void {
  if (conn.isV5) {
    conn.write({ cmd: 'connack', sessionPresent: false, reasonCode, properties: conn.reason(reason) });
  } else {
    const returnCode = v3ConnackCode(reasonCode);
    // 3.1.1 has no code for e.g. a malformed packet: the connection is just closed
    if (returnCode !== undefined) conn.write({ cmd: 'connack', sessionPresent: false, returnCode });
  }
  conn.ctx.metrics.inc('aio_mq_connections_refused', { reason: `0x${reasonCode.toString(16)}` });
  conn.terminate({ publishWill: false });
}
