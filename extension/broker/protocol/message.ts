// PUBLISH / will fields → the back end's Message.
import type { Message, MessageProperties, QoS } from '../session/types.js';

export interface IncomingProperties extends MessageProperties {
  messageExpiryInterval?: number;
}

export function buildMessage(
  origin: string,
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  props: IncomingProperties & Record<string, unknown>,
): Message {
  // Only the properties that travel with the message end to end [MQTT-3.3.2-17..20]; topic alias
  // and subscription identifiers are per hop and never forwarded [MQTT-3.3.2-? / 3.3.4-*].
  let properties = NO_PROPERTIES;
  if (
    props.payloadFormatIndicator !== undefined ||
    props.contentType !== undefined ||
    props.responseTopic !== undefined ||
    props.correlationData !== undefined ||
    props.userProperties !== undefined
  ) {
    properties = {};
    if (props.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = props.payloadFormatIndicator;
    if (props.contentType !== undefined) properties.contentType = props.contentType;
    if (props.responseTopic !== undefined) properties.responseTopic = props.responseTopic;
    if (props.correlationData !== undefined) properties.correlationData = props.correlationData;
    if (props.userProperties !== undefined) properties.userProperties = props.userProperties;
  }
  const message: Message = { topic, payload, qos, retain, properties, origin };
  if (props.messageExpiryInterval !== undefined) message.expiresAt = Date.now() + props.messageExpiryInterval * 1000;
  return message;
}

/** A message without properties (most of them) shares this one. */
const NO_PROPERTIES: MessageProperties = Object.freeze({});
