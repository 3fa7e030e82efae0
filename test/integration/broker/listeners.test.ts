// Listeners from the config file: TCP, TLS (automatic and manual), WebSocket, several at once.
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServerCertificate } from '../../../src/common/tls.js';
import { startBrokerFromFile } from '../../../extension/broker/main.js';
import { collect, connectClient, onCleanup } from './helpers.js';
import { createConfigDir, listener, portOf, startFromConfig } from './config-fixture.js';

describe('listeners', () => {
  it('serves TCP, TLS (automatic), WebSocket and secure WebSocket at once, one broker behind all', async () => {
    const dir = createConfigDir();
    const running = await startFromConfig(
      dir.config({
        listeners: [
          listener('tcp'),
          listener('tls', {
            tls: { automatic: { issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: 'x' } } },
          }),
          listener('ws', { protocol: 'websockets' }),
          listener('wss', {
            protocol: 'websockets',
            tls: { automatic: { issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: 'x' } } },
          }),
        ],
      }),
    );
    const ca = readFileSync(running.listeners.get('tls')!.caFile!);
    const sub = await connectClient(`mqtt://127.0.0.1:${portOf(running, 'tcp')}`, { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync('via/+', { qos: 1 });
    const clients = {
      tls: await connectClient(`mqtts://127.0.0.1:${portOf(running, 'tls')}`, { ca, protocolVersion: 4 }),
      ws: await connectClient(`ws://127.0.0.1:${portOf(running, 'ws')}/mqtt`, { protocolVersion: 5 }),
      wss: await connectClient(`wss://localhost:${portOf(running, 'wss')}/mqtt`, { ca, protocolVersion: 4 }),
    };
    for (const [name, c] of Object.entries(clients)) {
      await c.publishAsync(`via/${name}`, name, { qos: 1 });
      expect((await got.next()).topic).toBe(`via/${name}`);
    }
  });

  it('tls.automatic reuses its CA and certificate across restarts', async () => {
    const dir = createConfigDir();
    const config = dir.config({
      listeners: [
        listener('tls', { tls: { automatic: { issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: 'x' } } } }),
      ],
    });
    const first = await startFromConfig(config);
    const caFile = first.listeners.get('tls')!.caFile!;
    const ca = readFileSync(caFile, 'utf8');
    await first.close();
    const second = await startFromConfig(config);
    expect(readFileSync(second.listeners.get('tls')!.caFile!, 'utf8')).toBe(ca);
    await connectClient(`mqtts://127.0.0.1:${portOf(second, 'tls')}`, { ca });
  });

  it('tls.manual serves the certificate from the secret files tls.crt / tls.key', async () => {
    const dir = createConfigDir();
    const ca = await createCertificateAuthority();
    const server = await issueServerCertificate(ca, { dnsNames: ['mq.example'], ipAddresses: ['127.0.0.1'] });
    dir.secret('frontend-tls', 'tls.crt', server.certPem);
    dir.secret('frontend-tls', 'tls.key', server.keyPem);
    const running = await startFromConfig(
      dir.config({ listeners: [listener('l', { tls: { manual: { secretName: 'frontend-tls' } } })] }),
    );
    await connectClient(`mqtts://127.0.0.1:${portOf(running, 'l')}`, { ca: ca.certPem, servername: 'mq.example' });
  });

  it('startBrokerFromFile serves the config file and re-applies it when the file changes', async () => {
    const dir = createConfigDir();
    const file = path.join(dir.root, 'broker.json');
    writeFileSync(file, JSON.stringify(dir.config({ listeners: [listener('a')] })));
    const running = await startBrokerFromFile(file, { sysInterval: 0 });
    onCleanup(() => running.close());
    await connectClient(`mqtt://127.0.0.1:${portOf(running, 'a')}`);
    const reloaded = once(running.reloaded, 'reloaded');
    writeFileSync(file, JSON.stringify(dir.config({ listeners: [listener('a'), listener('b')] })));
    await reloaded;
    await connectClient(`mqtt://127.0.0.1:${portOf(running, 'b')}`);
  });
});
