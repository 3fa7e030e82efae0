// The data that crosses the front-end/back-end seam (docs/design.md, "The broker"). Everything here is
// plain, serialisable data (Buffers are bytes on a wire) because a network will later sit
// between connection handling and session state.

export type QoS = 0 | 1 | 2;

export type UserProperties = Record<string, string | string[]>;

/** MQTT 5 properties that travel with an application message unchanged [MQTT-3.3.2-17..20]. */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: MessageProperties;
  /** Absolute expiry (ms since epoch) from the Message Expiry Interval at receipt; absent = never. */
  expiresAt?: number;
  /** Client id of the publisher, for no-local [MQTT-3.8.3-3]; absent for broker-made messages. */
  origin?: string;
}

export interface Subscription {
  /** The filter as the client sent it, including a `$share/<group>/` prefix. */
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier?: number;
}

/** A message owed to a session: queued (no packet id yet) or in flight (sent / released). */
export interface OutboxEntry {
  seq: number;
  message: Message;
  qos: 1 | 2;
  retain: boolean;
  subscriptionIdentifiers: number[];
  packetId?: number;
  /** queued: waiting for flow control; sent: PUBLISH out, awaiting PUBACK/PUBREC; released: PUBREL out, awaiting PUBCOMP. */
  state: 'queued' | 'sent' | 'released';
}

export interface WillMessage {
  message: Message;
  delayInterval: number;
  /** Seconds; the expiry clock starts when the will is published, not at CONNECT. */
  messageExpiryInterval?: number;
}

export interface SessionRecord {
  clientId: string;
  /** Seconds; 0xFFFFFFFF = never expires [MQTT-3.1.2-11 ff.]. */
  expiryInterval: number;
  will?: WillMessage;
  /** ms since epoch of the last disconnect; absent while connected. */
  disconnectedAt?: number;
}

/** What the back end pushes to a live connection. */
export type Delivery =
  | {
      kind: 'publish';
      message: Message;
      qos: QoS;
      retain: boolean;
      dup: boolean;
      packetId?: number;
      subscriptionIdentifiers: number[];
      /** Remaining expiry in seconds, recomputed at delivery [MQTT-3.3.2-6]. */
      messageExpiryInterval?: number;
    }
  | { kind: 'pubrel'; packetId: number };

export const SESSION_NEVER_EXPIRES = 0xffffffff;
