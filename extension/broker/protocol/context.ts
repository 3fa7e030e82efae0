// What a connection needs from the broker: the session back end (through its interface only),
// listener security, limits, metrics. Passed to every packet handler.
import type { Logger } from '../../../src/common/log.js';
import type { ListenerSecurity } from '../auth/types.js';
import type { MessageCounters } from '../observability/broker-metrics.js';
import type { Metrics } from '../observability/metrics.js';
import type { SessionBackend } from '../session/session-backend.js';
import type { Backpressure } from '../transport/backpressure.js';
import type { ConnectionList } from './connection-list.js';

export interface BrokerLimits {
  /** Largest packet we accept; advertised in CONNACK [MQTT-3.2.2-*]. */
  maximumPacketSize: number;
  /**
   * Largest packet read before the connection is authenticated (CONNECT, AUTH): what a client
   * without credentials can make the broker buffer. Larger ones are refused from their header.
   */
  maximumConnectPacketSize: number;
  /** QoS 1/2 PUBLISHes a client may have unacknowledged towards us. */
  receiveMaximum: number;
  /** Highest topic alias a client may use towards us. */
  topicAliasMaximum: number;
  /** Keep alive the server imposes (Server Keep Alive) when the client asks for more or for none; 0 = never. */
  maxKeepAlive: number;
  /** Cap on the Session Expiry Interval clients ask for (seconds). */
  maxSessionExpiry: number;
  /** Seconds a connection may stay open without a CONNECT. */
  connectTimeout: number;
  /**
   * Bytes written to a client and not yet taken by its socket (high-water mark) beyond which the
   * publishers of further messages to it are not read until it has drained (backpressure).
   */
  outboundHighWater: number;
  /**
   * Milliseconds a client may stay above the high-water mark (hold publishers back) before it
   * counts as stuck: publishers no longer wait for it and it loses QoS 0 beyond its queue limit.
   */
  slowSubscriberGraceMs: number;
  /**
   * A client's queue limit, in bytes written to it and not yet taken by its socket: beyond it a
   * stuck client loses QoS 0 messages, and its own packets are not read until it drains.
   */
  outboundBufferLimit: number;
}

/** Where a connection came from; a plain TCP listener shares one object among its connections. */
export interface ConnectionInfo {
  /** Name of the listener the connection came in on (selects authn/authz). */
  listener: string;
  /** PEM chain the client presented in the TLS handshake, leaf first. */
  certificateChain?: string[];
  /** Did the chain verify against the listener's trusted client CAs? */
  certificateAuthorized?: boolean;
}

export interface BrokerContext {
  backend: SessionBackend;
  security(listener: string): ListenerSecurity;
  limits: BrokerLimits;
  metrics: Metrics;
  counters: MessageCounters;
  log: Logger;
  /** Logs and counts a QoS 0 message the back end failed to route (one handler, not a closure per message). */
  routingFailed(err: unknown): void;
  /** Random, unique id for a client that sent an empty one [MQTT-3.1.3-6]. */
  assignClientId(): string;
  /** The live connections, so reload, shutdown and the sweep can revisit them. */
  connections: ConnectionList;
  /** Holds publishers back while a subscriber of theirs catches up. */
  flow: Backpressure;
  /** Tells this broker's connection ids from another's. */
  instanceId: string;
  nextConnectionSeq(): number;
}

/**
 * The broker's coarse clock for keep alive and the CONNECT timeout: tenths of a second,
 * monotonic, a small integer to store per connection (one sweep checks them all, broker.ts).
 */
export const TICKS_PER_SECOND = 10;
export function clockTicks(): number {
  return Math.floor(performance.now() / (1000 / TICKS_PER_SECOND));
}
