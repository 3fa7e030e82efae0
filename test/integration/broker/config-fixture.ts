// Builds broker configs in a temp directory laid out like Kubernetes volume mounts
// (<secrets>/<name>/<key>, <configMaps>/<name>/<key>), and starts brokers from them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrokerConfig, ListenerSpec } from '../../../extension/broker/config.js';
import { startBroker, type RunningBroker, type StartBrokerOptions } from '../../../extension/broker/main.js';
import { onCleanup } from './helpers.js';

export interface ConfigDir {
  root: string;
  secrets: string;
  configMaps: string;
  dataDir: string;
  secret(name: string, key: string, value: string): void;
  configMap(name: string, key: string, value: string): void;
  config(partial: Partial<BrokerConfig> & { listeners: BrokerConfig['listeners'] }): BrokerConfig;
}

export function createConfigDir(): ConfigDir {
  const root = mkdtempSync(path.join(tmpdir(), 'iotmq-broker-'));
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
  const secrets = path.join(root, 'secrets');
  const configMaps = path.join(root, 'configmaps');
  const dataDir = path.join(root, 'data');
  const put = (dir: string, name: string, key: string, value: string): void => {
    mkdirSync(path.join(dir, name), { recursive: true });
    writeFileSync(path.join(dir, name, key), value);
  };
  return {
    root,
    secrets,
    configMaps,
    dataDir,
    secret: (n, k, v) => put(secrets, n, k, v),
    configMap: (n, k, v) => put(configMaps, n, k, v),
    config: (partial) => ({
      broker: { name: 'broker', spec: { mode: 'auto', memoryProfile: 'medium' } },
      mounts: { secrets, configMaps },
      dataDir,
      bindAddress: '127.0.0.1',
      ...partial,
    }),
  };
}

export function listener(name: string, spec: Partial<ListenerSpec> = {}): BrokerConfig['listeners'][number] {
  return { name, spec: { brokerRef: 'broker', port: 0, ...spec } };
}

export async function startFromConfig(config: BrokerConfig, options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const running = await startBroker(config, { sysInterval: 0, ...options });
  let closed = false;
  const close = running.close.bind(running);
  running.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  onCleanup(() => running.close());
  return running;
}

export function portOf(running: RunningBroker, name: string): number {
  const l = running.listeners.get(name);
  if (!l) throw new Error(`no listener ${name}`);
  return l.port;
}

/** A broker whose one listener `l` authenticates against this password database (TOML). */
export async function startWithPasswords(passwordsToml: string): Promise<RunningBroker> {
  const dir = createConfigDir();
  dir.secret('pw', 'passwords.toml', passwordsToml);
  return startFromConfig(
    dir.config({
      listeners: [listener('l', { authenticationEnabled: true })],
      authentications: [
        {
          name: 'a',
          spec: { listenerRef: ['l'], authenticationMethods: [{ usernamePassword: { secretName: 'pw' } }] },
        },
      ],
    }),
  );
}
