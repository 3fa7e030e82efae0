import type { IUnsubscribePacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';

export async function handleUnsubscribe(conn: Connection, packet: IUnsubscribePacket): Promise<void> {
  // At least one filter [MQTT-3.10.3-2]
  if (packet.unsubscriptions.length === 0)
    throw new ProtocolError(ReasonCode.ProtocolError, 'UNSUBSCRIBE without filters');
  const removed = await conn.ctx.backend.unsubscribe(conn.clientId, packet.unsubscriptions);
  // UNSUBACK even when nothing matched [MQTT-3.10.4-5]; v5 says which existed
  conn.write({
    cmd: 'unsuback',
    messageId: packet.messageId,
    granted: conn.isV5 ? removed.map((r) => (r ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted)) : [],
  } as never);
}
