// PUBACK, PUBREC, PUBCOMP for messages we sent; PUBREL for QoS 2 messages we received.
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import { ReasonCode } from './reason-codes.js';

type AckPacket = IPubackPacket | IPubrecPacket | IPubrelPacket | IPubcompPacket;

export async function handleAck(conn: Connection, packet: AckPacket): Promise<void> {
  const { backend } = conn.ctx;
  const id = packet.messageId ?? 0;
  switch (packet.cmd) {
    case 'puback':
    case 'pubcomp':
      // An unknown id is ignored: it may be a late ack of a message the client already had
      await backend.acknowledge(conn.clientId, id, packet.cmd);
      return;
    case 'pubrec': {
      // PUBREC with an error reason ends the exchange without PUBREL [MQTT-4.3.3-*]
      const failed = (packet.reasonCode ?? 0) >= 0x80;
      const known = await backend.acknowledge(conn.clientId, id, 'pubrec', failed);
      if (failed) return;
      conn.write({
        cmd: 'pubrel',
        messageId: id,
        ...(conn.isV5 && !known ? { reasonCode: ReasonCode.PacketIdentifierNotFound } : {}),
      });
      return;
    }
    case 'pubrel': {
      // Release the QoS 2 packet id and answer PUBCOMP, even for an unknown id [MQTT-4.3.3-11]
      const known = (await backend.releaseQos2(conn.clientId, id)) || conn.incomingUnacked.has(id);
      conn.incomingUnacked.delete(id);
      conn.write({
        cmd: 'pubcomp',
        messageId: id,
        ...(conn.isV5 && !known ? { reasonCode: ReasonCode.PacketIdentifierNotFound } : {}),
      });
      return;
    }
  }
}
