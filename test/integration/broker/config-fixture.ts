// Builds broker configs in a temp directory laid out like Kubernetes volume mounts
// (<secrets>/<name>/<key>, <configMaps>/<name>/<key>), and starts brokers from them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BrokerConfig, ListenerSpec } from '../../../extension/broker/config.js';
import { startBroker, type RunningBroker, type StartBrokerOptions } from '../../../extension/broker/main.js';
import { eventually } from '../../support/eventually.js';
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

/** A custom authentication server (plain HTTP) that accepts everyone, and holds `held` until release(). */
export async function startHeldAuthServer(held: string) {
  const seen = new Set<string>();
  const waiting: Array<() => void> = [];
  let released = false;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { username } = JSON.parse(Buffer.concat(chunks).toString()) as { username?: string };
      seen.add(username ?? '');
      const answer = (): void => void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (username === held && !released) waiting.push(answer);
      else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    asked: (username: string) => eventually(`a request for ${username}`, () => seen.has(username)),
    release() {
      released = true;
      for (const answer of waiting.splice(0)) answer();
    },
  };
}

/** A broker whose one listener `l` authenticates through a held custom auth server (startHeldAuthServer). */
export async function startWithHeldAuth(held: string, options: StartBrokerOptions = {}) {
  const auth = await startHeldAuthServer(held);
  const running = await startFromConfig(
    createConfigDir().config({
      listeners: [listener('l', { authenticationEnabled: true })],
      authentications: [
        { name: 'a', spec: { listenerRef: ['l'], authenticationMethods: [{ custom: { endpoint: auth.url } }] } },
      ],
    }),
    options,
  );
  return { auth, running };
}
