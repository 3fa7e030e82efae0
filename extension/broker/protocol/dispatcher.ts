// Hands a connection's packets, one at a time, to the handler for their family. The only place that turns a ProtocolError into CONNACK / DISCONNECT (the
// mosquitto read_handle.c habit): handlers just throw.
import mqttPacket, { type Packet } from 'mqtt-packet';
import { handleAck } from './ack.js';
import { handleAuth } from './auth.js';
import { handleConnect } from './connect.js';
import type { Connection } from './connection.js';
import { handleDisconnect } from './disconnect.js';
import { handlePing } from './ping.js';
import { ProtocolError } from './protocol-error.js';
import { handlePublish } from './publish.js';
import { ReasonCode } from './reason-codes.js';
import { refuseConnect } from './refuse-connect.js';
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

/** One packet through its handler; a handler's failure becomes what the client sees (fail). */
export function handlePacket(conn: Connection, packet: Packet): Promise<void> | void {
  try {
    const pending = dispatch(conn, packet);
    if (pending) return pending.catch((err: unknown) => fail(conn, err));
  } catch (err) {
    fail(conn, err);
  }
}

/**
 * Input that never became a packet: what mqtt-packet could not parse (an Error), or the size a
 * frame announced beyond our maximum (a number).
 */
export function inputError(conn: Connection, problem: Error | number): void {
  if (typeof problem === 'number')
    return fail(conn, new ProtocolError(ReasonCode.PacketTooLarge, `packet of ${problem} bytes exceeds the maximum`));
  // Anything mqtt-packet cannot parse is a Malformed Packet [MQTT-1.5.4-1, MQTT-2.2.2-2, …];
  // an unknown protocol level gets CONNACK 0x01/0x84 first [MQTT-3.1.2-2].
  const code = /protocol version/i.test(problem.message)
    ? ReasonCode.UnsupportedProtocolVersion
    : ReasonCode.MalformedPacket;
  fail(conn, new ProtocolError(code, problem.message));
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
  if (packet.messageId === 0 && carriesPacketId(packet))
    // a non-zero Packet Identifier on every SUBSCRIBE, UNSUBSCRIBE and QoS 1/2 PUBLISH [MQTT-2.2.1-3]
    throw new ProtocolError(ReasonCode.ProtocolError, `${packet.cmd} with packet identifier 0`);
  const handler = handlers[packet.cmd];
  if (!handler) throw new ProtocolError(ReasonCode.ProtocolError, `unexpected ${packet.cmd} from a client`);
  if (conn.ctx.log.isLevelEnabled('debug')) conn.log.debug({ cmd: packet.cmd }, 'packet');
  return (handler as (c: Connection, p: Packet) => Promise<void> | void)(conn, packet);
}

function carriesPacketId(packet: Packet): boolean {
  return packet.cmd === 'publish' ? packet.qos > 0 : packet.cmd === 'subscribe' || packet.cmd === 'unsubscribe';
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
