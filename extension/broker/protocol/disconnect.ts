import type { IDisconnectPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';

export function handleDisconnect(conn: Connection, packet: IDisconnectPacket): void {
  const expiry = packet.properties?.sessionExpiryInterval;
  // Zero at CONNECT cannot become non-zero at DISCONNECT [MQTT-3.14.2-2]
  if (expiry !== undefined && expiry !== 0 && conn.sessionExpiryInterval === 0)
    throw new ProtocolError(ReasonCode.ProtocolError, 'session expiry interval cannot be set at DISCONNECT');
  conn.terminate({
    // 0x04 "Disconnect with Will Message"; any other reason discards the will [MQTT-3.14.4-3]
    publishWill: packet.reasonCode === ReasonCode.DisconnectWithWill,
    expiryInterval: expiry === undefined ? undefined : Math.min(expiry, conn.ctx.limits.maxSessionExpiry),
  });
}
