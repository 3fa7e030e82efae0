// PUBACK, PUBREC, PUBCOMP for messages we sent; PUBREL for QoS 2 messages we received.
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import { ReasonCode } from './reason-codes.js';

type AckPacket = IPubackPacket | IPubrecPacket | IPubrelPacket | IPubcompPacket;

export function handleAck(conn: Connection, packet: AckPacket): Promise<void> | void {
  const { backend } = conn.ctx;
  const id = packet.messageId ?? 0;
  switch (packet.cmd) {
    case 'puback':
    case 'pubcomp':
      // Nothing goes back to the client: the back end gets it in order with the client's other
      // packets, and the next packet need not wait. An unknown id is ignored: it may be a late
      // ack of a message the client already had.
      backend
        .acknowledge(conn.clientId, id, packet.cmd)
        .catch((err: unknown) => conn.log.error({ err, packetId: id }, 'acknowledgement failed'));
      return;
    case 'pubrec': {
      // PUBREC with an error reason ends the exchange without PUBREL [MQTT-4.3.3-*]
      const failed = (packet.reasonCode ?? 0) >= 0x80;
      return backend.acknowledge(conn.clientId, id, 'pubrec', failed).then((known) => {
        if (failed) return;
        conn.write({
          cmd: 'pubrel',
          messageId: id,
          ...(conn.isV5 && !known ? { reasonCode: ReasonCode.PacketIdentifierNotFound } : {}),
        });
      });
    }
    case 'pubrel':
      // Release the QoS 2 packet id and answer PUBCOMP, even for an unknown id [MQTT-4.3.3-11]
      return backend.releaseQos2(conn.clientId, id).then((released) => {
        const known = released || conn.incomingUnacked.has(id);
        conn.deleteIncomingUnacked(id);
        conn.write({
          cmd: 'pubcomp',
          messageId: id,
          ...(conn.isV5 && !known ? { reasonCode: ReasonCode.PacketIdentifierNotFound } : {}),
        });
      });
  }
}
