// The broker core: takes duplex streams from any listener (aedes style: it opens no sockets),
// runs the MQTT protocol on them and keeps state in a session back end.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { componentLogger } from '../../src/common/log.js';
import type { ListenerSecurity } from './auth/types.js';
import { defineBrokerMetrics } from './observability/broker-metrics.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { startSysTopics } from './observability/sys-topics.js';
import { Connection } from './protocol/connection.js';
import type { BrokerContext, BrokerLimits, ConnectionInfo } from './protocol/context.js';
import { attachDispatcher } from './protocol/dispatcher.js';
import { ReasonCode } from './protocol/reason-codes.js';
import { createMemoryStore } from './session/memory-store.js';
import { createSessionBackend, type SessionBackend } from './session/session-backend.js';
import type { SessionStore } from './session/session-store.js';
import { SESSION_NEVER_EXPIRES } from './session/types.js';

export const DEFAULT_LIMITS: BrokerLimits = {
  maximumPacketSize: 64 * 1024 * 1024,
  receiveMaximum: 1024,
  topicAliasMaximum: 64,
  maxKeepAlive: 0,
  maxSessionExpiry: SESSION_NEVER_EXPIRES,
  connectTimeout: 10,
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

export interface Broker {
  handle(stream: Duplex, info: ConnectionInfo): Connection;
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
  const connections = new Map<string, Connection>();
  const ctx: BrokerContext = {
    backend,
    security: (listener) => security(listener),
    limits,
    metrics,
    log,
    assignClientId: () => `iotmq-${randomBytes(12).toString('hex')}`,
    connections,
  };
  defineBrokerMetrics(metrics, backend, () => connections.size);
  const sys = startSysTopics(backend, metrics, options.sysInterval ?? 10);

  return {
    backend,
    metrics,
    limits,
    handle(stream, info) {
      const conn = new Connection(stream, info, ctx);
      connections.set(conn.connectionId, conn);
      attachDispatcher(conn);
      return conn;
    },
    async setSecurity(next) {
      security = next;
      // A subscription the new rules no longer allow stops receiving; connections stay up.
      // (The product instead disconnected every client on an authorization change.)
      for (const conn of [...connections.values()]) {
        if (conn.state !== 'connected' || !conn.principal) continue;
        const authorizer = security(conn.info.listener).authorizer;
        if (!authorizer) continue;
        const denied = (await backend.subscriptions(conn.clientId))
          .map((s) => s.filter)
          .filter(
            (f) =>
              !authorizer.canSubscribe(conn.principal!, f.startsWith('$share/') ? f.split('/').slice(2).join('/') : f),
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
      // The session state stays as it is (connected sessions count as abnormally closed at the
      // next start), so a restart on a durable store resumes where this one stopped.
      for (const conn of [...connections.values()])
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
