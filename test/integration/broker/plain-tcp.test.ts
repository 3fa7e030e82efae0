// What a plain TCP listener owes its clients at the socket level, on both of its transports:
// libuv's handles (the default) and net.Server (the fallback). Real sockets on 127.0.0.1.
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createBroker } from '../../../extension/broker/broker.js';
import { listenPlainTcp } from '../../../extension/broker/listeners/listener.js';
import { eventually } from '../../support/eventually.js';
import { collect, connectClient, onCleanup, rawConnect, startTestBroker } from './helpers.js';

describe.each(['libuv', 'net'] as const)('plain TCP over %s', (transport) => {
  it('refuses a port in use with EADDRINUSE, as net.Server does', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    onCleanup(() => void busy.close());
    const broker = createBroker({ sysInterval: 0 });
    onCleanup(() => broker.close());
    const { port } = busy.address() as net.AddressInfo;
    await expect(listenPlainTcp(broker, 'l', '127.0.0.1', port, transport)).rejects.toMatchObject({
      code: 'EADDRINUSE',
      port,
    });
  });

  it('delivers a 4 MiB message intact (writes the kernel does not take at once)', async () => {
    const { url } = await startTestBroker({}, 'l', transport);
    const sub = await connectClient(url);
    const got = collect(sub);
    await sub.subscribeAsync('big', { qos: 1 });
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    const pub = await connectClient(url);
    await pub.publishAsync('big', payload, { qos: 1 });
    expect((await got.next(10_000)).payload.equals(payload)).toBe(true);
  });

  it("a peer's FIN or reset ends the connection as an abnormal close: the will is published", async () => {
    const { broker, connections, port, url } = await startTestBroker({}, 'l', transport);
    const watcher = await connectClient(url);
    const wills = collect(watcher);
    await watcher.subscribeAsync('will/+', { qos: 1 });

    for (const ending of ['fin', 'reset'] as const) {
      const raw = await rawConnect(port, 4);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: ending,
        clean: true,
        keepalive: 0,
        will: { topic: `will/${ending}`, payload: Buffer.from(ending), qos: 1, retain: false },
      });
      expect(await raw.next()).toMatchObject({ cmd: 'connack', returnCode: 0 });
      const conn = connections.at(-1)!;
      expect(conn.remoteAddress).toBe('127.0.0.1');
      if (ending === 'fin') raw.socket.end();
      else raw.socket.resetAndDestroy();
      expect((await wills.next()).topic).toBe(`will/${ending}`);
      await raw.closed;
      expect(conn.state).toBe('closed');
    }
    await eventually('only the watcher to be left', () => broker.connectionCount() === 1);
  });

  it('closing the listener cuts off its clients and stops accepting', async () => {
    const broker = createBroker({ sysInterval: 0 });
    onCleanup(() => broker.close());
    const server = await listenPlainTcp(broker, 'l', '127.0.0.1', 0, transport);
    const raw = await rawConnect(server.port, 4);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 });
    expect(await raw.next()).toMatchObject({ cmd: 'connack' });
    await server.close();
    await raw.closed;
    expect(broker.connectionCount()).toBe(0);
    const refused = net.connect(server.port, '127.0.0.1');
    await expect(once(refused, 'connect')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
