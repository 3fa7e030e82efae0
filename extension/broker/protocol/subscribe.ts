// SUBSCRIBE: validate each filter, authorize it, store the allowed ones, SUBACK, then any
// retained messages (held until the SUBACK is written).
import type { ISubscribePacket } from 'mqtt-packet';
import { parseSharedFilter } from '../session/topic-filter.js';
import type { QoS, Subscription } from '../session/types.js';
import type { Connection } from './connection.js';
import { ProtocolError } from './protocol-error.js';
import { ReasonCode } from './reason-codes.js';
import { topicFilterError } from './topic-validation.js';

export async function handleSubscribe(conn: Connection, packet: ISubscribePacket): Promise<void> {
  const { ctx } = conn;
  // At least one filter [MQTT-3.8.3-2]
  if (packet.subscriptions.length === 0) throw new ProtocolError(ReasonCode.ProtocolError, 'SUBSCRIBE without filters');
  const subscriptionIdentifier = packet.properties?.subscriptionIdentifier;
  if (subscriptionIdentifier === 0) throw new ProtocolError(ReasonCode.ProtocolError, 'subscription identifier 0'); // [MQTT-3.8.2-?]
  const authorizer = ctx.security(conn.info.listener).authorizer;
  const codes: number[] = [];
  const accepted: Subscription[] = [];
  const failure = (v5: number): number => (conn.isV5 ? v5 : 0x80); // 3.1.1 has one failure code

  for (const s of packet.subscriptions) {
    const shared = parseSharedFilter(s.topic);
    if (shared && s.nl) throw new ProtocolError(ReasonCode.ProtocolError, 'no-local on a shared subscription'); // [MQTT-3.8.3-4]
    if (topicFilterError(s.topic) !== null) {
      codes.push(failure(ReasonCode.TopicFilterInvalid));
      continue;
    }
    if (authorizer && !authorizer.canSubscribe(conn.principal, shared ? shared.filter : s.topic)) {
      ctx.metrics.inc('aio_mq_authorization_deny', { method: 'Subscribe' });
      codes.push(failure(ReasonCode.NotAuthorized));
      continue;
    }
    if (authorizer) ctx.metrics.inc('aio_mq_authorization_allow', { method: 'Subscribe' });
    accepted.push({
      filter: s.topic,
      qos: s.qos as QoS,
      noLocal: !!s.nl,
      retainAsPublished: !!s.rap,
      retainHandling: (s.rh ?? 0) as 0 | 1 | 2,
      ...(subscriptionIdentifier !== undefined ? { subscriptionIdentifier } : {}),
    });
    codes.push(s.qos); // granted QoS = requested: we support all three
  }

  conn.hold();
  try {
    if (accepted.length > 0) await ctx.backend.subscribe(conn.clientId, accepted);
    conn.write({ cmd: 'suback', messageId: packet.messageId, granted: codes });
  } finally {
    conn.release();
  }
}
