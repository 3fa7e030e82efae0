// One client connection on any duplex stream: its protocol state, how packets are written
// (maximum packet size, topic aliases), keep alive, and how it ends. Packet handling lives in the
// handler files; the dispatcher feeds them.
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Logger } from '../../../src/common/log.js';
import type { EnhancedAuthExchange, Principal } from '../auth/types.js';
import type { SessionLink } from '../session/session-backend.js';
import type { Delivery, Message, WillMessage } from '../session/types.js';
import type { BrokerContext, ConnectionInfo } from './context.js';
import { encodeFast, encodePublish } from './encode.js';
import { ReasonCode } from './reason-codes.js';

// Connections with corked streams, uncorked together once the current I/O phase is over: all the
// packets that the inbound data of this turn produced for one client go out in one writev.
let corkedConnections: Connection[] = [];
function scheduleUncork(conn: Connection): void {
  if (corkedConnections.length === 0) setImmediate(uncorkAll);
  corkedConnections.push(conn);
}
function uncorkAll(): void {
  const batch = corkedConnections;
  corkedConnections = [];
  for (const conn of batch) conn.flushWrites();
}

const QOS_LABEL = ['0', '1', '2'] as const;

/**
 * QoS 0 PUBLISH bytes of a message without per-subscriber parts, per (protocol 5?, retain). The
 * back end hands one message to all its subscribers in one go, so remembering the last message
 * is enough to encode it once per fan-out (a WeakMap cost more than it saved for one subscriber).
 */
let lastMessage: Message | undefined;
let lastEncodings: Array<Buffer | undefined> = [];
function sharedEncoding(message: Message, retain: boolean, v5: boolean): Buffer {
  if (message !== lastMessage) {
    lastMessage = message;
    lastEncodings = [];
  }
  const i = (v5 ? 2 : 0) + (retain ? 1 : 0);
  return (lastEncodings[i] ??= encodePublish(message.topic, message.payload, 0, retain, false, undefined, v5));
}

function hasProperties(p: Message['properties']): boolean {
  for (const k in p) if ((p as Record<string, unknown>)[k] !== undefined) return true;
  return false;
}

export type ConnectionState = 'awaiting-connect' | 'authenticating' | 'connected' | 'closed';

export interface TerminateOptions {
  /** v5 DISCONNECT reason to send first (only once connected and for v5). */
  reasonCode?: number;
  reasonString?: string;
  publishWill: boolean;
  /** Session Expiry Interval from the client's DISCONNECT. */
  expiryInterval?: number;
  /** The back end already knows (takeover, broker shutdown): do not report the disconnect. */
  skipBackend?: boolean;
}

/** State kept while an enhanced authentication exchange is in progress (spec 4.12). */
export interface PendingConnect {
  packet: mqttPacket.IConnectPacket;
  method: string;
  exchange: EnhancedAuthExchange;
}

export class Connection implements SessionLink {
  readonly connectionId = randomUUID();
  state: ConnectionState = 'awaiting-connect';
  protocolVersion: 3 | 4 | 5 = 4;
  clientId = '';
  principal?: Principal;
  log: Logger;
  sessionExpiryInterval = 0;
  will?: WillMessage;
  // what the client told us about itself (v5 CONNECT properties)
  clientReceiveMaximum = 65535;
  clientMaximumPacketSize = Number.POSITIVE_INFINITY;
  clientTopicAliasMaximum = 0;
  requestProblemInformation = true;
  // topic aliases: client→server and server→client live independently [MQTT-3.3.2-10]
  readonly topicAliasesIn = new Map<number, string>();
  readonly topicAliasesOut = new Map<string, number>();
  /** QoS 1/2 PUBLISHes from the client not yet acknowledged by us (PUBACK / PUBCOMP). */
  readonly incomingUnacked = new Set<number>();
  pendingConnect?: PendingConnect;
  authMethod?: string;
  private keepAliveMs = 0;
  private keepAliveTimer?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;
  private held = 1; // deliveries wait until CONNACK is out
  private corked = false;
  private readPaused = false;
  private heldDeliveries: Delivery[] = [];

  constructor(
    readonly stream: Duplex,
    readonly info: ConnectionInfo,
    readonly ctx: BrokerContext,
  ) {
    this.log = ctx.log.child({ connection: this.connectionId, listener: info.listener });
  }

  get isV5(): boolean {
    return this.protocolVersion === 5;
  }

  /** Encode and write one packet; returns false when it exceeds the client's maximum packet size. */
  write(packet: Packet): boolean {
    if (this.stream.destroyed || !this.stream.writable) return false;
    let buf =
      encodeFast(packet, this.protocolVersion) ??
      mqttPacket.generate(packet, { protocolVersion: this.protocolVersion });
    if (buf.length > this.clientMaximumPacketSize && 'properties' in packet && packet.properties) {
      // Reason strings and user properties are the first thing to go [MQTT-3.1.2-29 ff.]
      const { reasonString: _r, userProperties: _u, ...rest } = packet.properties as Record<string, unknown>;
      buf = mqttPacket.generate({ ...packet, properties: rest } as Packet, { protocolVersion: this.protocolVersion });
    }
    return this.writeEncoded(buf);
  }

  /** Write an already encoded packet (shared between the subscribers of one message). */
  private writeEncoded(buf: Buffer): boolean {
    if (this.stream.destroyed || !this.stream.writable) return false;
    if (buf.length > this.clientMaximumPacketSize) return false;
    if (!this.corked) {
      // Batch every packet written to this client in this turn of the event loop into one
      // writev: a write per packet made the syscall the broker's main cost under load.
      this.corked = true;
      this.stream.cork();
      scheduleUncork(this);
    }
    this.stream.write(buf);
    if (!this.readPaused && this.stream.writableLength > this.ctx.limits.outboundBufferLimit) {
      // Stop reading from a client that does not read what we send (its acks, its deliveries)
      // until its socket drains: its PUBLISHes wait in TCP instead of in our memory.
      this.readPaused = true;
      this.stream.pause();
      this.stream.once('drain', () => {
        this.readPaused = false;
        if (this.state !== 'closed') this.stream.resume();
      });
    }
    return true;
  }

  /** End of the batch started by the first write() of this turn (see scheduleUncork). */
  flushWrites(): void {
    this.corked = false;
    this.stream.uncork();
  }

  /** The problem-information rule: reason strings only when the client did not opt out [MQTT-3.1.2-29]. */
  reason(text: string): { reasonString?: string } {
    return this.isV5 && this.requestProblemInformation ? { reasonString: text } : {};
  }

  // ---- SessionLink -----------------------------------------------------------------------

  deliver(delivery: Delivery): void {
    if (this.state === 'closed') return;
    if (this.held > 0) {
      this.heldDeliveries.push(delivery);
      return;
    }
    if (
      delivery.kind === 'publish' &&
      delivery.qos === 0 &&
      this.stream.writableLength > this.ctx.limits.outboundBufferLimit
    ) {
      // A client that does not keep up loses QoS 0 messages instead of growing our buffers
      // without bound (QoS 0 may be discarded [MQTT-4.3.1]); QoS 1/2 stay bounded by its
      // Receive Maximum and the session queue limit in the back end.
      this.ctx.metrics.inc('aio_mq_messages_dropped', { reason: 'slow-consumer' });
      return;
    }
    if (delivery.kind === 'pubrel') {
      this.write({ cmd: 'pubrel', messageId: delivery.packetId });
      return;
    }
    const { message } = delivery;
    if (
      delivery.qos === 0 &&
      !(this.isV5 && (hasProperties(message.properties) || delivery.messageExpiryInterval !== undefined)) &&
      !(this.isV5 && (delivery.subscriptionIdentifiers.length > 0 || this.clientTopicAliasMaximum > 0))
    ) {
      // The common fan-out case: the same bytes for every such subscriber, encoded once per message
      if (!this.writeEncoded(sharedEncoding(message, delivery.retain, this.isV5))) return this.dropTooLarge(delivery);
      this.countSent(delivery);
      return;
    }
    const properties: NonNullable<mqttPacket.IPublishPacket['properties']> = {};
    if (this.isV5) {
      Object.assign(properties, message.properties);
      if (delivery.messageExpiryInterval !== undefined)
        properties.messageExpiryInterval = delivery.messageExpiryInterval;
      if (delivery.subscriptionIdentifiers.length > 0)
        properties.subscriptionIdentifier =
          delivery.subscriptionIdentifiers.length === 1
            ? delivery.subscriptionIdentifiers[0]
            : delivery.subscriptionIdentifiers;
    }
    let topic = message.topic;
    if (this.isV5 && this.clientTopicAliasMaximum > 0) {
      // Outgoing aliases: first use sends topic + alias, later ones only the alias, up to the
      // client's Topic Alias Maximum [MQTT-3.3.2-11]; past it, full topics.
      const alias = this.topicAliasesOut.get(topic);
      if (alias !== undefined) {
        properties.topicAlias = alias;
        topic = '';
      } else if (this.topicAliasesOut.size < this.clientTopicAliasMaximum) {
        const next = this.topicAliasesOut.size + 1;
        this.topicAliasesOut.set(topic, next);
        properties.topicAlias = next;
      }
    }
    const sent = this.write({
      cmd: 'publish',
      topic,
      payload: message.payload,
      qos: delivery.qos,
      retain: delivery.retain,
      dup: delivery.dup,
      messageId: delivery.packetId,
      ...(Object.keys(properties).length > 0 ? { properties } : {}),
    });
    if (!sent) {
      if (properties.topicAlias !== undefined && topic !== '') this.topicAliasesOut.delete(message.topic);
      return this.dropTooLarge(delivery);
    }
    this.countSent(delivery);
  }

  /** Too large for the client: discard and behave as if it was delivered [MQTT-3.1.2-25]. */
  private dropTooLarge(delivery: Delivery & { kind: 'publish' }): void {
    if (this.stream.destroyed || !this.stream.writable) return;
    this.ctx.metrics.inc('aio_mq_messages_dropped', { reason: 'too-large' });
    if (delivery.packetId !== undefined)
      void this.ctx.backend.acknowledge(
        this.clientId,
        delivery.packetId,
        delivery.qos === 1 ? 'puback' : 'pubrec',
        true,
      );
  }

  private countSent(delivery: Delivery & { kind: 'publish' }): void {
    this.ctx.metrics.inc('aio_mq_publishes_sent', { qos: QOS_LABEL[delivery.qos] });
    this.ctx.metrics.inc('aio_mq_payload_bytes_sent', undefined, delivery.message.payload.length);
  }

  close(reasonCode: number): void {
    this.terminate({ reasonCode, publishWill: false, skipBackend: true, reasonString: 'session taken over' });
  }

  /** Hold deliveries (e.g. while a SUBACK is pending so retained messages follow it). */
  hold(): void {
    this.held++;
  }

  release(): void {
    if (--this.held > 0) return;
    const pending = this.heldDeliveries;
    this.heldDeliveries = [];
    for (const d of pending) this.deliver(d);
  }

  // ---- timers ------------------------------------------------------------------------------

  /** Close after 1.5 × keep alive without a packet [MQTT-3.1.2-24]; 0 disables it. */
  setKeepAlive(seconds: number): void {
    this.keepAliveMs = seconds * 1500;
    this.touch();
  }

  touch(): void {
    if (this.keepAliveMs === 0 || this.state === 'closed') return;
    clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = setTimeout(() => {
      this.log.info('keep alive timeout');
      this.terminate({
        reasonCode: ReasonCode.KeepAliveTimeout,
        reasonString: 'keep alive timeout',
        publishWill: true,
      });
    }, this.keepAliveMs);
  }

  /** Credentials with an expiry (custom auth): disconnect when they run out. */
  setCredentialExpiry(expiresAt: number | undefined): void {
    clearTimeout(this.expiryTimer);
    if (expiresAt === undefined) return;
    this.expiryTimer = setTimeout(
      () =>
        this.terminate({
          reasonCode: ReasonCode.NotAuthorized,
          reasonString: 'credentials expired',
          publishWill: true,
        }),
      Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
    );
  }

  // ---- the end -------------------------------------------------------------------------------

  terminate(options: TerminateOptions): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    clearTimeout(this.keepAliveTimer);
    clearTimeout(this.expiryTimer);
    this.ctx.connections.delete(this.connectionId);
    if (wasConnected && this.isV5 && options.reasonCode !== undefined) {
      this.write({
        cmd: 'disconnect',
        reasonCode: options.reasonCode,
        ...(options.reasonString ? { properties: this.reason(options.reasonString) } : {}),
      });
    }
    this.stream.end();
    // a peer that never reads must not keep the socket alive
    setTimeout(() => this.stream.destroy(), 1000).unref();
    if (wasConnected) {
      this.log.info({ clientId: this.clientId, reasonCode: options.reasonCode }, 'disconnected');
      if (!options.skipBackend)
        this.ctx.backend
          .disconnect(this.clientId, this.connectionId, {
            publishWill: options.publishWill,
            expiryInterval: options.expiryInterval,
          })
          .catch((err: unknown) => this.log.error({ err }, 'session disconnect failed'));
    }
  }
}
