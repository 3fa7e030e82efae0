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
  const broker = createBroker({
    store,
    security: (l) => plan.security(l),
    sysInterval: options.sysInterval,
    limits: {
      maximumPacketSize: maximumPacketSizeFor(config.broker.spec.memoryProfile),
      ...configuredLimits(config),
      ...options.limits,
    },
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
      // applies to the CONNECTs from now on
      broker.limits.maxKeepAlive = configuredLimits(next).maxKeepAlive ?? DEFAULT_LIMITS.maxKeepAlive;
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

/** Broker limits the config file sets; the rest keep their defaults (DEFAULT_LIMITS). */
function configuredLimits(config: BrokerConfig): Partial<BrokerLimits> {
  return config.maxKeepAlive === undefined ? {} : { maxKeepAlive: config.maxKeepAlive };
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
