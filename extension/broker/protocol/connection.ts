// One client connection on any transport: its protocol state, how packets are read (framer.ts)
// and written (maximum packet size, topic aliases, one batch per event-loop turn), keep alive, and
// how it ends. Packet handling lives in the handler files; the dispatcher runs them.
//
// Memory: an idle connection is this object and its transport, nothing else. What only some
// connections need (MQTT 5 client limits, topic aliases, QoS 1/2 bookkeeping, enhanced
// authentication, an authenticated identity) lives in `Extras`, made on first use; timers are the
// broker's one sweep (broker.ts), not a Timeout per connection; the logger is made when a line
// is written.
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Logger } from '../../../src/common/log.js';
import type { EnhancedAuthExchange, Principal } from '../auth/types.js';
import type { SessionLink } from '../session/session-backend.js';
import type { Delivery, Message } from '../session/types.js';
import type { HoldableSource } from '../transport/backpressure.js';
import type { Transport, TransportSink } from '../transport/transport.js';
import { DEFAULT_CLIENT_PROPERTIES, type ClientProperties } from './client-properties.js';
import { clockTicks, TICKS_PER_SECOND, type BrokerContext, type ConnectionInfo } from './context.js';
import { handlePacket, inputError } from './dispatcher.js';
import { encodeFast, encodePublish } from './encode.js';
import { pushBytes, type FrameReader, type PartialFrame } from './framer.js';
import { ReasonCode } from './reason-codes.js';

// Connections with output waiting, written together once the current I/O phase is over: all the
// packets that the inbound data of this turn produced for one client go out in one writev.
let flushQueue: Connection[] = [];
function scheduleFlush(conn: Connection): void {
  if (flushQueue.length === 0) setImmediate(flushAll);
  flushQueue.push(conn);
}
function flushAll(): void {
  const batch = flushQueue;
  flushQueue = [];
  for (const conn of batch) conn.flush();
}

/**
 * QoS 0 PUBLISH bytes of a message without per-subscriber parts, per (protocol 5?, retain). The
 * back end hands one message to all its subscribers in one go, so remembering the last message
 * is enough to encode it once per fan-out (a WeakMap cost more than it saved for one subscriber).
 */
let lastMessage: Message | undefined;
const lastEncodings: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined];
function sharedEncoding(message: Message, retain: boolean, v5: boolean): Buffer {
  if (message !== lastMessage) {
    lastMessage = message;
    lastEncodings.fill(undefined);
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

/** Bytes of a fixed header at most: the type byte and four of remaining length. */
const MAX_FIXED_HEADER = 5;

/**
 * The protocol level a CONNECT announces, from its first bytes (0x10, remaining length, the
 * protocol name "MQTT" or "MQIsdp", the level); undefined where they have not all arrived.
 */
function connectProtocolLevel(head: Buffer): number | undefined {
  if (head[0] !== 0x10) return undefined;
  let i = 1;
  while (i < 5 && i < head.length && (head[i] & 0x80) !== 0) i++; // the remaining length
  i++;
  if (i + 2 > head.length) return undefined;
  const level = i + 2 + head.readUInt16BE(i);
  return level < head.length ? head[level] : undefined;
}

const NO_ATTRIBUTES: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_IDS: ReadonlySet<number> = new Set();

/** What Connection.run takes: a packet, or a step that ends the connection. */
type Step = Packet | (() => Promise<void> | void);

/** The parts of a connection's state that most connections never need, made on first use. */
class Extras {
  client = DEFAULT_CLIENT_PROPERTIES;
  identity: Principal | undefined = undefined;
  sessionExpiryInterval = 0;
  pendingConnect: PendingConnect | undefined = undefined;
  authMethod: string | undefined = undefined;
  // topic aliases: client→server and server→client live independently [MQTT-3.3.2-10]
  topicAliasesIn: Map<number, string> | undefined = undefined;
  topicAliasesOut: Map<string, number> | undefined = undefined;
  /** QoS 2 PUBLISHes from the client answered with PUBREC, waiting for PUBREL. */
  incomingUnacked: Set<number> | undefined = undefined;
  heldDeliveries: Delivery[] | undefined = undefined;
  /** The incomplete frame of the last read (framer.ts). */
  partial: PartialFrame | undefined = undefined;
  /** Input after a packet too large to read before authentication, kept unread until then. */
  deferredInput: Buffer | undefined = undefined;
  /** Packets and steps waiting for an asynchronous handler to finish (Connection.run). */
  waiting: Array<Step | undefined> | undefined = undefined;
  /** The next of them (a queue by index: shift() moved the rest on every packet). */
  waitingHead = 0;
  credentialTimer: NodeJS.Timeout | undefined = undefined;
}

// flags
const BRIDGE_MODE = 1; // CONNECT had the bridge bit (mqtt-packet parses SUBSCRIBE options differently)
const INPUT_REFUSED = 2; // a malformed or oversized packet: nothing more is read
const READ_PAUSED = 4; // slow consumer: not read until its output drains
const BUSY = 8; // an asynchronous handler is running: packets wait in `waiting`
const HELD = 16; // backpressure: not read while a subscriber of its messages catches up (holdInput)
const PRE_AUTH_PAUSED = 32; // not read while the CONNECT's credentials are checked (packet())
const HOLD = 64; // flags / HOLD is how many holds keep deliveries back (see hold())

export class Connection implements SessionLink, TransportSink, FrameReader, HoldableSource {
  state: ConnectionState = 'awaiting-connect';
  protocolVersion: 3 | 4 | 5 = 4;
  clientId = '';
  /** Links of the broker's connection list (broker.ts), kept here instead of a Set entry. */
  listPrev: Connection | undefined = undefined;
  listNext: Connection | undefined = undefined;
  private readonly seq: number;
  private flags = HOLD; // deliveries wait until CONNACK is out
  private out: Buffer | Buffer[] | undefined = undefined;
  /** Bytes in `out`: a turn can read megabytes from publishers before the batch reaches the transport. */
  private outBytes = 0;
  /** Clock ticks (context.ts) of the last packet; of the start until CONNECT is answered. */
  private seenAt: number;
  /** Ticks without a packet after which the connection is closed (1.5 × keep alive); 0: never. */
  private keepAliveTicks = 0;
  private x: Extras | undefined = undefined;

  constructor(
    readonly transport: Transport,
    readonly info: ConnectionInfo,
    readonly ctx: BrokerContext,
  ) {
    this.seq = ctx.nextConnectionSeq();
    this.seenAt = clockTicks();
    transport.setMessageLimit?.(ctx.limits.maximumConnectPacketSize + MAX_FIXED_HEADER);
  }

  /** Unique per broker; the back end tells a session's connections apart by it. */
  get connectionId(): string {
    return `${this.ctx.instanceId}-${this.seq}`;
  }

  get isV5(): boolean {
    return this.protocolVersion === 5;
  }

  get remoteAddress(): string | undefined {
    return this.transport.remoteAddress;
  }

  /** A child of the broker's logger bound to this connection, made for the line being written. */
  get log(): Logger {
    return this.ctx.log.child({
      connection: this.connectionId,
      listener: this.info.listener,
      ...(this.clientId ? { clientId: this.clientId } : {}),
    });
  }

  // ---- the rarer parts ---------------------------------------------------------------------------

  private extras(): Extras {
    return (this.x ??= new Extras());
  }

  get client(): ClientProperties {
    return this.x?.client ?? DEFAULT_CLIENT_PROPERTIES;
  }

  set client(client: ClientProperties) {
    if (this.x || client !== DEFAULT_CLIENT_PROPERTIES) this.extras().client = client;
  }

  /**
   * Who the connection acts as for authorization: what authentication established, or, where
   * the listener does not authenticate, just its client id.
   */
  get principal(): Principal {
    return this.x?.identity ?? { clientId: this.clientId, attributes: NO_ATTRIBUTES };
  }

  set principal(principal: Principal) {
    this.extras().identity = principal;
  }

  get sessionExpiryInterval(): number {
    return this.x?.sessionExpiryInterval ?? 0;
  }

  set sessionExpiryInterval(seconds: number) {
    if (this.x || seconds !== 0) this.extras().sessionExpiryInterval = seconds;
  }

  get pendingConnect(): PendingConnect | undefined {
    return this.x?.pendingConnect;
  }

  set pendingConnect(pending: PendingConnect | undefined) {
    if (this.x || pending) this.extras().pendingConnect = pending;
  }

  get authMethod(): string | undefined {
    return this.x?.authMethod;
  }

  set authMethod(method: string | undefined) {
    if (this.x || method) this.extras().authMethod = method;
  }

  get topicAliasesIn(): Map<number, string> {
    return (this.extras().topicAliasesIn ??= new Map());
  }

  /** QoS 2 PUBLISHes from the client that we answered with PUBREC and that wait for PUBREL. */
  get incomingUnacked(): ReadonlySet<number> {
    return this.x?.incomingUnacked ?? NO_IDS;
  }

  addIncomingUnacked(packetId: number): void {
    (this.extras().incomingUnacked ??= new Set()).add(packetId);
  }

  deleteIncomingUnacked(packetId: number): void {
    const ids = this.x?.incomingUnacked;
    if (ids?.delete(packetId) && ids.size === 0) this.x!.incomingUnacked = undefined;
  }

  // ---- reading (TransportSink, FrameReader) -----------------------------------------------------

  /** The incomplete frame of the last read (framer.ts); none on an idle connection. */
  get partial(): PartialFrame | undefined {
    return this.x?.partial;
  }

  set partial(partial: PartialFrame | undefined) {
    if (this.x || partial) this.extras().partial = partial;
  }

  get bridgeMode(): boolean {
    return (this.flags & BRIDGE_MODE) !== 0;
  }

  /** What the framer admits: until the client is authenticated, only what a CONNECT needs. */
  get maximumPacketSize(): number {
    const { limits } = this.ctx;
    return this.state === 'connected' ? limits.maximumPacketSize : limits.maximumConnectPacketSize;
  }

  get reading(): boolean {
    return this.state !== 'closed' && (this.flags & INPUT_REFUSED) === 0;
  }

  onData(chunk: Buffer): void {
    if (!this.reading) return;
    const deferred = this.x?.deferredInput;
    if (deferred === undefined) return pushBytes(this, chunk);
    // read after all (flow control resumed the transport): it waits with the rest
    this.x!.deferredInput = Buffer.concat([deferred, chunk]);
    this.transport.pause();
  }

  packet(packet: Packet): void {
    if (packet.cmd === 'connect' && this.state === 'awaiting-connect') {
      // what follows is parsed for the protocol level this CONNECT announces
      this.protocolVersion = packet.protocolVersion ?? 4;
      if ((packet as { bridgeMode?: boolean }).bridgeMode) this.flags |= BRIDGE_MODE;
    }
    if (this.keepAliveTicks !== 0) this.seenAt = clockTicks();
    const behindConnect = this.state === 'authenticating';
    this.run(packet);
    if (behindConnect && (this.flags & (BUSY | PRE_AUTH_PAUSED)) === BUSY) {
      // Packets sent behind the CONNECT wait in memory for its outcome: once one has come, read
      // no further until it is known (the rest waits in the kernel, bounded by TCP) — an
      // unauthenticated client could otherwise queue any amount here. Not before one has come:
      // a socket that is read sees its peer's FIN, and the credentials of a client that has
      // gone are not worth checking (auth/password-queue.ts skips them).
      this.flags |= PRE_AUTH_PAUSED;
      this.transport.pause();
    }
  }

  /** Reading stopped for authentication (packet above) goes on: it has ended, or awaits an AUTH. */
  private readAfterAuthentication(): void {
    if ((this.flags & PRE_AUTH_PAUSED) === 0) return;
    this.flags &= ~PRE_AUTH_PAUSED;
    if (this.reading && !this.x?.deferredInput && (this.flags & (READ_PAUSED | HELD)) === 0) this.transport.resume();
  }

  malformed(error: Error): void {
    this.flags |= INPUT_REFUSED;
    this.run(() => inputError(this, error));
  }

  oversize(length: number, head: Buffer): void {
    if (this.state === 'authenticating' && length <= this.ctx.limits.maximumPacketSize) {
      // A client may send packets right after its CONNECT [MQTT-3.1.4-5]: one beyond the
      // unauthenticated limit waits, unread, for the outcome (finishConnect or the end).
      this.extras().deferredInput = head;
      this.transport.pause();
      return;
    }
    // Refuse an oversized packet from its header, before buffering its body [MQTT-3.2.2-15]. A
    // CONNECT that large is answered in its own protocol version: v5 gets CONNACK 0x95.
    if (this.state === 'awaiting-connect' && connectProtocolLevel(head) === 5) this.protocolVersion = 5;
    this.flags |= INPUT_REFUSED;
    this.partial = undefined;
    this.transport.pause();
    this.run(() => inputError(this, length));
  }

  onDrain(): void {
    this.ctx.flow.cleared(this, 'output'); // publishers held for it are read again
    if ((this.flags & READ_PAUSED) === 0) return;
    this.flags &= ~READ_PAUSED;
    if (this.reading && (this.flags & HELD) === 0) this.transport.resume();
  }

  /** Backpressure (transport/backpressure.ts): stop or start reading for a subscriber's sake. */
  holdInput(held: boolean): void {
    if (held) {
      this.flags |= HELD;
      this.transport.pause();
      return;
    }
    this.flags &= ~HELD;
    if (this.reading && (this.flags & READ_PAUSED) === 0) this.transport.resume();
  }

  onClose(error?: Error): void {
    if (error && this.ctx.log.isLevelEnabled('debug')) this.log.debug({ err: error }, 'transport error');
    // Closed without DISCONNECT: the will is published [MQTT-3.1.2-8]
    this.run(() => this.terminate({ publishWill: true }));
  }

  /**
   * Packets (and the steps that end a connection) are handled strictly one after another. One
   * that finishes synchronously (QoS 0 PUBLISH, PINGREQ, …) runs at once; while an asynchronous
   * one is pending, later ones wait in a queue (a promise chain link per packet was a large share
   * of a message's cost).
   */
  private run(step: Step): void {
    if (this.flags & BUSY) {
      (this.extras().waiting ??= []).push(step);
      return;
    }
    // what is routed meanwhile was published by this connection: backpressure holds it if need be
    const flow = this.ctx.flow;
    const outer = flow.source;
    flow.source = this;
    try {
      let next: Step | undefined = step;
      while (next !== undefined) {
        const pending = typeof next === 'function' ? next() : handlePacket(this, next);
        if (pending) {
          this.flags |= BUSY;
          pending.then(
            () => this.resume(),
            (err: unknown) => {
              this.log.error({ err }, 'dispatch failed');
              this.resume();
            },
          );
          return;
        }
        // (a step may have started an asynchronous one of its own: the queue then waits for it)
        next = this.flags & BUSY ? undefined : this.nextWaiting();
      }
    } finally {
      flow.source = outer;
    }
  }

  private resume(): void {
    this.flags &= ~BUSY;
    // an enhanced authentication exchange waits for the client's next AUTH
    if (this.state === 'authenticating') this.readAfterAuthentication();
    const next = this.nextWaiting();
    if (next !== undefined) this.run(next);
  }

  private nextWaiting(): Step | undefined {
    const x = this.x;
    const waiting = x?.waiting;
    if (!waiting || x.waitingHead === waiting.length) return undefined;
    const next = waiting[x.waitingHead];
    waiting[x.waitingHead++] = undefined;
    if (x.waitingHead === waiting.length) {
      waiting.length = 0;
      x.waitingHead = 0;
    }
    return next;
  }

  /**
   * The client is authenticated and has its CONNACK: from now on it may send packets up to the
   * broker's maximum, and what waited for that (see oversize) is read.
   */
  authenticated(): void {
    this.state = 'connected';
    this.transport.setMessageLimit?.(this.ctx.limits.maximumPacketSize + MAX_FIXED_HEADER);
    this.readAfterAuthentication();
    if (this.x?.deferredInput) this.run(() => this.readDeferred());
  }

  private readDeferred(): void {
    const input = this.x?.deferredInput;
    if (!input || !this.reading) return;
    this.x!.deferredInput = undefined;
    this.transport.resume();
    pushBytes(this, input);
  }

  // ---- writing -----------------------------------------------------------------------------------

  /** Encode and write one packet; returns false when it exceeds the client's maximum packet size. */
  write(packet: Packet): boolean {
    if (!this.transport.writable) return false;
    let buf =
      encodeFast(packet, this.protocolVersion) ??
      mqttPacket.generate(packet, { protocolVersion: this.protocolVersion });
    if (buf.length > this.client.maximumPacketSize && 'properties' in packet && packet.properties) {
      // Reason strings and user properties are the first thing to go [MQTT-3.1.2-29 ff.]
      const { reasonString: _r, userProperties: _u, ...rest } = packet.properties as Record<string, unknown>;
      buf = mqttPacket.generate({ ...packet, properties: rest } as Packet, { protocolVersion: this.protocolVersion });
    }
    return this.send(buf);
  }

  /** Queue encoded bytes for this turn's batch (shared between the subscribers of one message). */
  private send(buf: Buffer): boolean {
    if (!this.transport.writable || buf.length > this.client.maximumPacketSize) return false;
    // Every packet written to this client in this turn of the event loop goes out in one writev:
    // a write per packet made the syscall the broker's main cost under load.
    const out = this.out;
    if (out === undefined) {
      this.out = buf;
      scheduleFlush(this);
    } else if (Array.isArray(out)) out.push(buf);
    else this.out = [out, buf];
    this.outBytes += buf.length;
    return true;
  }

  /** Hand this turn's batch to the transport (see scheduleFlush). */
  flush(): void {
    const out = this.out;
    if (out === undefined) return;
    this.out = undefined;
    this.outBytes = 0;
    this.transport.write(out);
    // the socket took it all at once (no drain will come): publishers held for this batch go on
    if (this.transport.pendingBytes === 0) this.ctx.flow.cleared(this, 'output');
    if ((this.flags & READ_PAUSED) === 0 && this.transport.pendingBytes > this.ctx.limits.outboundBufferLimit) {
      // Stop reading from a client that does not read what we send (its acks, its deliveries)
      // until its socket drains: its PUBLISHes wait in TCP instead of in our memory.
      this.flags |= READ_PAUSED;
      this.transport.pause();
    }
  }

  /** Stopped reading because the client does not take its output (flow control). */
  get readPaused(): boolean {
    return (this.flags & READ_PAUSED) !== 0;
  }

  /** The problem-information rule: reason strings only when the client did not opt out [MQTT-3.1.2-29]. */
  reason(text: string): { reasonString?: string } {
    return this.isV5 && this.client.requestProblemInformation ? { reasonString: text } : {};
  }

  // ---- SessionLink -------------------------------------------------------------------------------

  /** Its session's queue is past the high-water mark: the publisher being handled waits (backpressure.ts). */
  backlogged(): void {
    this.ctx.flow.deliveringTo(this, 'queue');
  }

  caughtUp(): void {
    this.ctx.flow.cleared(this, 'queue');
  }

  deliver(delivery: Delivery): void {
    if (this.state === 'closed') return;
    if (this.flags >= HOLD) {
      (this.extras().heldDeliveries ??= []).push(delivery);
      return;
    }
    if (delivery.kind === 'publish') {
      const { limits } = this.ctx;
      const pending = this.transport.pendingBytes + this.outBytes;
      // Past the high-water mark the publisher waits for this client (backpressure.ts); only a
      // client stuck for the grace period loses QoS 0 messages, beyond its queue limit, instead
      // of growing our buffers without bound (QoS 0 may be discarded [MQTT-4.3.1]). QoS 1/2 stay
      // bounded by its Receive Maximum and the session queue limit in the back end.
      if (
        pending > limits.outboundHighWater &&
        this.ctx.flow.deliveringTo(this, 'output') === 'stuck' &&
        delivery.qos === 0 &&
        pending > limits.outboundBufferLimit
      )
        return this.ctx.counters.slowConsumerDropped.inc();
    }
    if (delivery.kind === 'pubrel') {
      this.write({ cmd: 'pubrel', messageId: delivery.packetId });
      return;
    }
    const { message } = delivery;
    const aliases = this.isV5 && this.client.topicAliasMaximum > 0;
    if (
      delivery.qos === 0 &&
      !(this.isV5 && (hasProperties(message.properties) || delivery.messageExpiryInterval !== undefined)) &&
      !(this.isV5 && delivery.subscriptionIdentifiers.length > 0) &&
      !aliases
    ) {
      // The common fan-out case: the same bytes for every such subscriber, encoded once per message
      if (!this.send(sharedEncoding(message, delivery.retain, this.isV5))) return this.dropTooLarge(delivery);
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
    const outgoing = aliases ? (this.extras().topicAliasesOut ??= new Map()) : undefined;
    if (outgoing) {
      // Outgoing aliases: first use sends topic + alias, later ones only the alias, up to the
      // client's Topic Alias Maximum [MQTT-3.3.2-11]; past it, full topics.
      const alias = outgoing.get(topic);
      if (alias !== undefined) {
        properties.topicAlias = alias;
        topic = '';
      } else if (outgoing.size < this.client.topicAliasMaximum) {
        const next = outgoing.size + 1;
        outgoing.set(topic, next);
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
      if (properties.topicAlias !== undefined && topic !== '') outgoing?.delete(message.topic);
      return this.dropTooLarge(delivery);
    }
    this.countSent(delivery);
  }

  /** Too large for the client: discard and behave as if it was delivered [MQTT-3.1.2-25]. */
  private dropTooLarge(delivery: Delivery & { kind: 'publish' }): void {
    if (!this.transport.writable) return;
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
    this.ctx.counters.publishesSent[delivery.qos].inc();
    this.ctx.counters.payloadBytesSent.inc(delivery.message.payload.length);
  }

  close(reasonCode: number): void {
    this.terminate({ reasonCode, publishWill: false, skipBackend: true, reasonString: 'session taken over' });
  }

  /** Hold deliveries (e.g. while a SUBACK is pending so retained messages follow it). */
  hold(): void {
    this.flags += HOLD;
  }

  release(): void {
    this.flags -= HOLD;
    if (this.flags >= HOLD) return;
    const pending = this.x?.heldDeliveries;
    if (!pending) return;
    this.x!.heldDeliveries = undefined;
    for (const d of pending) this.deliver(d);
  }

  // ---- time --------------------------------------------------------------------------------------

  /** Close after 1.5 × keep alive without a packet [MQTT-3.1.2-24]; 0 disables it. */
  setKeepAlive(seconds: number): void {
    this.keepAliveTicks = Math.ceil(seconds * 1.5 * TICKS_PER_SECOND);
    this.seenAt = clockTicks();
  }

  /**
   * Called by the broker's sweep: the CONNECT timeout before the session exists, keep alive after.
   * Ticks are whole; "more than n ticks apart" means more than n ticks of time have passed.
   */
  checkDeadlines(now: number): void {
    if (this.state === 'connected') {
      // not read because we hold it for a slow subscriber: its PINGREQs wait unread, through no fault of its own
      if (this.flags & HELD) this.seenAt = now;
      if (this.keepAliveTicks === 0 || now - this.seenAt <= this.keepAliveTicks) return;
      if (this.ctx.log.isLevelEnabled('info')) this.log.info('keep alive timeout');
      this.terminate({
        reasonCode: ReasonCode.KeepAliveTimeout,
        reasonString: 'keep alive timeout',
        publishWill: true,
      });
    } else if (this.state !== 'closed' && now - this.seenAt > this.ctx.limits.connectTimeout * TICKS_PER_SECOND) {
      if (this.ctx.log.isLevelEnabled('debug')) this.log.debug('no CONNECT in time');
      this.terminate({ publishWill: false });
    }
  }

  /** Credentials with an expiry (custom auth): disconnect when they run out. */
  setCredentialExpiry(expiresAt: number | undefined): void {
    clearTimeout(this.x?.credentialTimer);
    if (expiresAt === undefined) {
      if (this.x) this.x.credentialTimer = undefined;
      return;
    }
    this.extras().credentialTimer = setTimeout(
      () =>
        this.terminate({
          reasonCode: ReasonCode.NotAuthorized,
          reasonString: 'credentials expired',
          publishWill: true,
        }),
      Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
    );
  }

  // ---- the end -----------------------------------------------------------------------------------

  terminate(options: TerminateOptions): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    if (this.state === 'authenticating') this.ctx.connections.connectDone(this);
    this.state = 'closed';
    const x = this.x;
    if (x) {
      clearTimeout(x.credentialTimer);
      // input kept for later is dropped now, not when the transport has finished closing
      x.partial = x.deferredInput = undefined;
    }
    this.ctx.connections.remove(this);
    this.ctx.flow.closed(this);
    if (wasConnected && this.isV5 && options.reasonCode !== undefined) {
      this.write({
        cmd: 'disconnect',
        reasonCode: options.reasonCode,
        ...(options.reasonString ? { properties: this.reason(options.reasonString) } : {}),
      });
    }
    this.flush();
    this.transport.end();
    if (wasConnected) {
      if (this.ctx.log.isLevelEnabled('info')) this.log.info({ reasonCode: options.reasonCode }, 'disconnected');
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
