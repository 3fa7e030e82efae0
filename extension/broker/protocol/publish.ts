// PUBLISH from a client: topic aliases, flow control, authorization, QoS 0/1/2 acknowledgement.
import type { IPublishPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import type { Message } from '../session/types.js';
import { buildMessage } from './message.js';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';
import { assertTopicName, BROKER_TOPIC_REFUSAL, isBrokerTopic } from './topic-validation.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NO_PROPERTIES: NonNullable<IPublishPacket['properties']> = Object.freeze({});

/** Synchronous up to the back end for QoS 0 (nothing to answer), so the dispatcher needs no promise for it. */
export function handlePublish(conn: Connection, packet: IPublishPacket): Promise<void> | void {
  const { ctx } = conn;
  if (packet.dup && packet.qos === 0)
    // DUP is a fixed-header flag, and a wrong flag makes the packet malformed [MQTT-3.3.1-2, MQTT-2.1.3-1]
    throw new ProtocolError(ReasonCode.MalformedPacket, 'DUP set on a QoS 0 PUBLISH');
  const props = packet.properties ?? NO_PROPERTIES;
  const topic = resolveTopic(conn, packet.topic, props.topicAlias);
  assertTopicName(topic);
  if (props.subscriptionIdentifier !== undefined)
    // a client must not send a Subscription Identifier in PUBLISH [MQTT-3.3.4-6]
    throw new ProtocolError(ReasonCode.ProtocolError, 'subscription identifier in PUBLISH');
  const qos = packet.qos;
  const packetId = packet.messageId ?? 0;
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;

  // More unacknowledged QoS 1/2 PUBLISHes than our Receive Maximum [MQTT-3.3.4-9]. Packets are
  // handled one at a time, so those waiting are the QoS 2 ones before their PUBREL.
  const unacked = conn.incomingUnacked;
  if (qos > 0 && unacked.size >= ctx.limits.receiveMaximum && !unacked.has(packetId))
    throw new ProtocolError(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded');
  ctx.counters.publishesReceived[qos].inc();
  ctx.counters.payloadBytesReceived.inc(payload.length);

  let refusal: number | undefined;
  let refusalText = '';
  if (props.payloadFormatIndicator && !isUtf8(payload)) {
    // Payload says UTF-8 but is not [MQTT-3.3.2-4 (may)]: refuse it
    refusal = ReasonCode.PayloadFormatInvalid;
    refusalText = 'payload is not valid UTF-8';
  }
  const authorizer = ctx.security(conn.info.listener).authorizer;
  if (refusal === undefined && isBrokerTopic(topic)) {
    refusal = ReasonCode.NotAuthorized;
    refusalText = BROKER_TOPIC_REFUSAL;
  } else if (refusal === undefined && authorizer && !authorizer.canPublish(conn.principal, topic)) {
    ctx.metrics.inc('aio_mq_authorization_deny', { method: 'Publish' });
    refusal = ReasonCode.NotAuthorized;
    refusalText = `not authorized to publish to ${topic}`;
  } else if (authorizer) ctx.counters.publishAllowed.inc();

  if (refusal !== undefined) {
    // the connection's logger is made per line (connection.ts): not for lines nobody will see
    if (ctx.log.isLevelEnabled('debug')) conn.log.debug({ topic, reasonCode: refusal }, 'publish refused');
    // v5: the refusal is in the ack; 3.1.1 has no code, so the ack is normal and the message is
    // dropped (the product's documented behaviour); QoS 0 is just dropped.
    const reason = conn.isV5 ? { reasonCode: refusal, properties: conn.reason(refusalText) } : {};
    if (qos === 1) conn.write({ cmd: 'puback', messageId: packetId, ...reason });
    if (qos === 2) {
      if (conn.isV5) conn.write({ cmd: 'pubrec', messageId: packetId, ...reason });
      else {
        // 3.1.1 must still complete the exchange; remember the id so PUBREL finds it
        conn.addIncomingUnacked(packetId);
        conn.write({ cmd: 'pubrec', messageId: packetId });
      }
    }
    return;
  }

  const message = buildMessage(conn.clientId, topic, payload, qos, packet.retain, props);
  if (qos === 0) {
    // Nothing to acknowledge: the back end receives it in order with this client's other
    // packets, and a failure costs this message only.
    ctx.backend.publish(message).catch(ctx.routingFailed);
    return;
  }
  return acknowledged(conn, packetId, qos, message);
}

function acknowledged(conn: Connection, packetId: number, qos: 1 | 2, message: Message): Promise<void> {
  const { ctx } = conn;
  if (qos === 1)
    return ctx.backend.publish(message).then((routed) => {
      conn.write({
        cmd: 'puback',
        messageId: packetId,
        ...(conn.isV5 && routed === 0 ? { reasonCode: ReasonCode.NoMatchingSubscribers } : {}),
      });
    });
  // QoS 2: the back end records the packet id and ignores re-sends until PUBREL [MQTT-4.3.3-9 ff.]
  conn.addIncomingUnacked(packetId);
  return ctx.backend.receiveQos2(conn.clientId, packetId, message).then(({ duplicate, routed }) => {
    conn.write({
      cmd: 'pubrec',
      messageId: packetId,
      ...(conn.isV5 && !duplicate && routed === 0 ? { reasonCode: ReasonCode.NoMatchingSubscribers } : {}),
    });
  });
}

/** Topic Alias handling, client → server [MQTT-3.3.2-8 … MQTT-3.3.2-12]. */
function resolveTopic(conn: Connection, topic: string, alias: number | undefined): string {
  if (alias === undefined) {
    if (topic === '') throw new ProtocolError(ReasonCode.ProtocolError, 'empty topic without a topic alias');
    return topic;
  }
  if (!conn.isV5 || alias === 0 || alias > conn.ctx.limits.topicAliasMaximum)
    throw new ProtocolError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} is out of range`);
  if (topic !== '') {
    conn.topicAliasesIn.set(alias, topic);
    return topic;
  }
  const known = conn.topicAliasesIn.get(alias);
  if (known === undefined) throw new ProtocolError(ReasonCode.ProtocolError, `unknown topic alias ${alias}`);
  return known;
}

function isUtf8(payload: Buffer): boolean {
  try {
    utf8.decode(payload);
    return true;
  } catch {
    return false;
  }
}
