// The broker core: takes transports from any listener (aedes style: it opens no sockets; a bare
// duplex stream will do too), runs the MQTT protocol on them and keeps state in a session back end.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { componentLogger } from '../../src/common/log.js';
import type { ListenerSecurity } from './auth/types.js';
import { defineBrokerMetrics, messageCounters } from './observability/broker-metrics.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { startSysTopics } from './observability/sys-topics.js';
import { Connection } from './protocol/connection.js';
import { ConnectionList } from './protocol/connection-list.js';
import { clockTicks, type BrokerContext, type BrokerLimits, type ConnectionInfo } from './protocol/context.js';
import { ReasonCode } from './protocol/reason-codes.js';
import { createMemoryStore } from './session/memory-store.js';
import { createSessionBackend, type SessionBackend } from './session/session-backend.js';
import type { SessionStore } from './session/session-store.js';
import { SESSION_NEVER_EXPIRES } from './session/types.js';
import { Backpressure } from './transport/backpressure.js';
import { StreamTransport } from './transport/stream-transport.js';
import type { Transport } from './transport/transport.js';

export const DEFAULT_LIMITS: BrokerLimits = {
  maximumPacketSize: 64 * 1024 * 1024,
  // A CONNECT holds at most a client id, user name, password, will topic and will payload of
  // 64 KiB each, but real ones are a few hundred bytes: 64 KiB fits any sensible will and keeps
  // what an unauthenticated socket can pin to that (it was the 64 MiB packet limit).
  maximumConnectPacketSize: 64 * 1024,
  receiveMaximum: 1024,
  topicAliasMaximum: 64,
  // Clients asking for a longer keep alive (or none) get this one: a connection whose client is
  // gone without a FIN is noticed within 1.5 × 60 s (also what Paho's interoperability suite expects)
  maxKeepAlive: 60,
  maxSessionExpiry: SESSION_NEVER_EXPIRES,
  connectTimeout: 10,
  outboundHighWater: 1024 * 1024,
  slowSubscriberGraceMs: 5000,
  outboundBufferLimit: 4 * 1024 * 1024,
};

/** Anyone may connect and do anything: a listener with authentication and authorization off. */
export const OPEN_SECURITY: ListenerSecurity = {
  authenticate: null,
  enhancedMethod: () => undefined,
  authorizer: null,
};

export interface BrokerOptions {
  store?: SessionStore;
  limits?: Partial<BrokerLimits>;
  security?: (listener: string) => ListenerSecurity;
  /** Seconds between `$SYS/broker/...` updates; 0 turns them off. */
  sysInterval?: number;
  maxQueuedMessages?: number;
}

/** How often one pass over all connections checks CONNECT timeouts and keep alive. */
const SWEEP_INTERVAL_MS = 1000;

export interface Broker {
  /** Serve a client on a transport (a listener's accepted connection). */
  accept(transport: Transport, info: ConnectionInfo): Connection;
  /** Serve a client on any duplex stream. */
  handle(stream: Duplex, info: ConnectionInfo): Connection;
  /** Cut off every connection that came in on a listener (the listener is going away). */
  dropConnections(listener: string): void;
  /** Swap listener security (auth config reload) without dropping connections. */
  setSecurity(security: (listener: string) => ListenerSecurity): Promise<void>;
  readonly backend: SessionBackend;
  readonly metrics: Metrics;
  readonly limits: BrokerLimits;
  connectionCount(): number;
  close(): Promise<void>;
}

export function createBroker(options: BrokerOptions = {}): Broker {
  const log = componentLogger('broker');
  const metrics = createMetrics();
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const backend = createSessionBackend({
    store: options.store ?? createMemoryStore(),
    maxQueuedMessages: options.maxQueuedMessages,
    onDropped: (reason) => metrics.inc('aio_mq_messages_dropped', { reason }),
  });
  let security = options.security ?? (() => OPEN_SECURITY);
  const connections = new ConnectionList();
  let connectionSeq = 0;
  const flow = new Backpressure({
    // read at each congestion, so that a reloaded limit applies to the next one
    get graceMs() {
      return limits.slowSubscriberGraceMs;
    },
    onStuck: (sink, heldMs) =>
      (sink as Connection).log.warn(
        { heldMs: Math.round(heldMs), pendingBytes: (sink as Connection).transport.pendingBytes },
        'subscriber does not keep up: publishers no longer wait for it, QoS 0 beyond its queue limit is dropped',
      ),
  });
  const ctx: BrokerContext = {
    backend,
    security: (listener) => security(listener),
    limits,
    metrics,
    counters: messageCounters(metrics),
    log,
    routingFailed: (err) => {
      log.error({ err }, 'routing a QoS 0 message failed');
      metrics.inc('aio_mq_messages_dropped', { reason: 'routing-failed' });
    },
    assignClientId: () => `iotmq-${randomBytes(12).toString('hex')}`,
    connections,
    flow,
    instanceId: randomBytes(4).toString('hex'),
    nextConnectionSeq: () => ++connectionSeq,
  };
  defineBrokerMetrics(metrics, backend, () => connections.size);
  const sys = startSysTopics(backend, metrics, options.sysInterval ?? 10);
  // One timer for every connection's CONNECT timeout and keep alive, instead of one each.
  const sweep = setInterval(() => {
    const now = clockTicks();
    connections.forEach((conn) => conn.checkDeadlines(now));
  }, SWEEP_INTERVAL_MS).unref();

  const accept = (transport: Transport, info: ConnectionInfo): Connection => {
    const conn = new Connection(transport, info, ctx);
    connections.add(conn);
    transport.start(conn);
    return conn;
  };

  return {
    backend,
    metrics,
    limits,
    accept,
    handle: (stream, info) =>
      accept(new StreamTransport(stream, (stream as Duplex & { remoteAddress?: string }).remoteAddress), info),
    dropConnections(listener) {
      for (const conn of connections.toArray()) if (conn.info.listener === listener) conn.transport.destroy();
    },
    async setSecurity(next) {
      security = next;
      // A subscription the new rules no longer allow stops receiving; connections stay up.
      // (The product instead disconnected every client on an authorization change.)
      for (const conn of connections.toArray()) {
        if (conn.state !== 'connected') continue;
        const authorizer = security(conn.info.listener).authorizer;
        if (!authorizer) continue;
        const denied = (await backend.subscriptions(conn.clientId))
          .map((s) => s.filter)
          .filter(
            (f) =>
              !authorizer.canSubscribe(conn.principal, f.startsWith('$share/') ? f.split('/').slice(2).join('/') : f),
          );
        if (denied.length > 0) {
          conn.log.info({ filters: denied }, 'subscriptions revoked by authorization reload');
          await backend.unsubscribe(conn.clientId, denied);
        }
      }
    },
    connectionCount: () => connections.size,
    async close() {
      sys.stop();
      clearInterval(sweep);
      // The session state stays as it is (connected sessions count as abnormally closed at the
      // next start), so a restart on a durable store resumes where this one stopped.
      for (const conn of connections.toArray())
        conn.terminate({
          reasonCode: ReasonCode.ServerShuttingDown,
          reasonString: 'server shutting down',
          publishWill: false,
          skipBackend: true,
        });
      await backend.close();
    },
  };
}
