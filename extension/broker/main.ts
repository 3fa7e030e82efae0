// `iotmq broker --config FILE`: load the config, open the store in dataDir, start the listeners
// and the metrics endpoint, and re-apply the config whenever the file changes.
import { EventEmitter } from 'node:events';
import { readFileSync, watch } from 'node:fs';
import path from 'node:path';
import { componentLogger } from '../../src/common/log.js';
import { buildSecurity } from './auth/listener-security.js';
import { createBroker, DEFAULT_LIMITS, type Broker, type BrokerOptions } from './broker.js';
import {
  loadConfig,
  maximumPacketSizeFor,
  validateConfig,
  type BrokerConfig,
  type ListenerSpec,
  type Named,
} from './config.js';
import { startListener, type RunningListener } from './listeners/listener.js';
import { startMetricsServer } from './observability/metrics-server.js';
import type { BrokerLimits } from './protocol/context.js';
import { createMemoryStore } from './session/memory-store.js';
import { DEFAULT_MAX_QUEUED_MESSAGES } from './session/session-backend.js';

export interface RunningBroker {
  broker: Broker;
  listeners: Map<string, RunningListener>;
  metricsPort?: number;
  /** Apply a changed config: authn/authz live, listeners added/removed/restarted as needed. */
  reload(config: BrokerConfig): Promise<void>;
  close(): Promise<void>;
}

export type StartBrokerOptions = Pick<BrokerOptions, 'sysInterval' | 'limits'>;

export async function startBroker(given: BrokerConfig, options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const log = componentLogger('broker');
  // Checked here too, not only by loadConfig: a config built in code gets the same schema and defaults.
  const config = validateConfig(given);
  let plan = buildSecurity(config);
  // SQLite (a native module) loads only for a broker that persists
  const store = config.dataDir
    ? (await import('./session/sqlite-store.js')).createSqliteStore(path.join(config.dataDir, 'broker.db'))
    : createMemoryStore();
  const { maxQueuedMessages, ...limits } = configuredLimits(config);
  const broker = createBroker({
    store,
    security: (l) => plan.security(l),
    sysInterval: options.sysInterval,
    limits: {
      maximumPacketSize: maximumPacketSizeFor(config.broker.spec.memoryProfile),
      ...limits,
      ...options.limits,
    },
    maxQueuedMessages,
  });
  const listeners = new Map<string, RunningListener>();
  const applied = new Map<string, string>();
  const signature = (l: Named<ListenerSpec>): string => JSON.stringify([l.spec, plan.clientCa.get(l.name) ?? '']);

  async function syncListeners(next: BrokerConfig): Promise<void> {
    const wanted = new Map(next.listeners.map((l) => [l.name, l]));
    for (const [name, running] of listeners) {
      const l = wanted.get(name);
      if (!l || signature(l) !== applied.get(name)) {
        await running.close();
        listeners.delete(name);
        applied.delete(name);
      }
    }
    for (const l of next.listeners) {
      if (listeners.has(l.name)) continue;
      const running = await startListener(broker, next, l, { clientCa: plan.clientCa.get(l.name) });
      listeners.set(l.name, running);
      applied.set(l.name, signature(l));
      log.info({ listener: l.name, port: running.port, tls: running.tls, protocol: running.protocol }, 'listening');
    }
  }

  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  try {
    await syncListeners(config);
    if (config.metricsPort !== undefined)
      metricsServer = await startMetricsServer(broker.metrics, config.metricsPort, config.bindAddress ?? '0.0.0.0');
  } catch (err) {
    for (const l of listeners.values()) await l.close();
    await broker.close();
    throw err;
  }

  return {
    broker,
    listeners,
    metricsPort: metricsServer?.port,
    async reload(given) {
      const next = validateConfig(given);
      plan = buildSecurity(next); // throws on a broken config: the running one stays in force
      await broker.setSecurity((l) => plan.security(l));
      // the limits apply from now on: keep alive and packet size to new connections, the queue
      // limits and the grace period to the next message or congestion; a queue over a lowered
      // limit loses only what comes next
      const { maxQueuedMessages, ...limits } = configuredLimits(next);
      Object.assign(broker.limits, limits, options.limits);
      broker.backend.setMaxQueuedMessages(maxQueuedMessages);
      await syncListeners(next);
      log.info('configuration reloaded');
    },
    async close() {
      for (const l of listeners.values()) await l.close();
      await metricsServer?.close();
      await broker.close();
    },
  };
}

/** The broker limits the config file sets (docs/broker.md), each its default when the file leaves it out. */
export type ConfiguredLimits = Pick<
  BrokerLimits,
  'maxKeepAlive' | 'maximumConnectPacketSize' | 'outboundBufferLimit' | 'outboundHighWater' | 'slowSubscriberGraceMs'
> & { maxQueuedMessages: number };

/** What the config file's settings make of the broker's limits; the others keep DEFAULT_LIMITS. */
export function configuredLimits(config: BrokerConfig): ConfiguredLimits {
  const queueBytes = config.maxSubscriberQueueBytes ?? DEFAULT_LIMITS.outboundBufferLimit;
  return {
    maxKeepAlive: config.maxKeepAlive ?? DEFAULT_LIMITS.maxKeepAlive,
    maximumConnectPacketSize: config.maxConnectPacketBytes ?? DEFAULT_LIMITS.maximumConnectPacketSize,
    outboundBufferLimit: queueBytes,
    // publishers wait well before a subscriber reaches its limit: at a quarter of it, at most the
    // default mark (1 MiB, a quarter of the default 4 MiB limit)
    outboundHighWater: Math.min(DEFAULT_LIMITS.outboundHighWater, Math.floor(queueBytes / 4)),
    slowSubscriberGraceMs: config.slowSubscriberGraceMs ?? DEFAULT_LIMITS.slowSubscriberGraceMs,
    maxQueuedMessages: config.maxSessionQueueMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
  };
}

/**
 * Start from a config file and re-apply it whenever it changes (the directory is watched: a
 * mounted ConfigMap is updated through a symlink swap). A broken new config is logged and the
 * running one stays in force.
 */
export async function startBrokerFromFile(
  configPath: string,
  options: StartBrokerOptions = {},
): Promise<RunningBroker & { reloaded: EventEmitter }> {
  const log = componentLogger('broker');
  const running = await startBroker(loadConfig(configPath), options);
  const reloaded = new EventEmitter();
  const base = path.basename(configPath);
  let applied = readFileSync(configPath, 'utf8');
  let timer: NodeJS.Timeout | undefined;
  // Only the config file itself, or `..data` (the symlink a mounted ConfigMap swaps on update).
  const watcher = watch(path.dirname(path.resolve(configPath)), (_event, file) => {
    if (file !== null && file !== base && file !== '..data') return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      Promise.resolve()
        .then(async () => {
          const text = readFileSync(configPath, 'utf8');
          if (text === applied) return false;
          await running.reload(loadConfig(configPath));
          applied = text;
          return true;
        })
        .then(
          (changed) => changed && reloaded.emit('reloaded'),
          (err: unknown) => {
            log.error({ err }, 'config reload failed; keeping the running config');
            reloaded.emit('failed', err);
          },
        );
    }, 100);
  });
  const close = running.close.bind(running);
  return Object.assign(running, {
    reloaded,
    async close() {
      watcher.close();
      clearTimeout(timer);
      await close();
    },
  });
}

/** The `iotmq broker --config FILE` entry point; resolves when SIGTERM/SIGINT stopped the broker. */
export async function runBroker(configPath: string): Promise<void> {
  const running = await startBrokerFromFile(configPath);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await running.close();
}
