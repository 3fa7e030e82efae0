// One broker under test in its own process (forked by bench/broker.ts): `iotmq` (the product's
// startBroker with one plain TCP listener, in-memory store) or `aedes`. Sends { port } over IPC
// once listening and exits when told to or when the parent goes away. mosquitto is Debian's binary,
// started directly by bench/broker.ts.
import { once } from 'node:events';
import net from 'node:net';

const kind = process.argv[2];
let close: () => Promise<void>;

if (kind === 'iotmq') {
  const { startBroker } = await import('../extension/broker/main.js');
  const running = await startBroker(
    {
      broker: { name: 'broker', spec: { mode: 'auto', memoryProfile: 'high' } },
      listeners: [{ name: 'bench', spec: { brokerRef: 'broker', port: 0 } }],
      bindAddress: '127.0.0.1',
    },
    { sysInterval: 0 },
  );
  process.send!({ port: running.listeners.get('bench')!.port });
  close = () => running.close();
} else if (kind === 'aedes') {
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send!({ port: (server.address() as net.AddressInfo).port });
  close = async () => {
    server.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  };
} else throw new Error(`unknown broker kind ${kind}`);

const stop = (): void => void close().finally(() => process.exit(0));
process.on('message', (m) => m === 'close' && stop());
process.on('disconnect', stop);
