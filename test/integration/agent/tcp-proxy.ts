// A TCP proxy in front of a real server, so a test can take the network away (every connection
// reset, new ones refused) and give it back, and see which requests went through.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** First line of every request that went through, e.g. `GET /agent/v1/…?since=12&watch=1 HTTP/1.1`. */
  requests: string[];
  /** Connections refused while the network was cut (each one an attempt of the client to come back). */
  readonly refused: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  let down = false;
  let refused = 0;
  const server = net.createServer((client) => {
    if (down) {
      refused++;
      return void client.resetAndDestroy();
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.once('data', (chunk: Buffer) => requests.push(chunk.toString('latin1').split('\r\n')[0]!));
    client.pipe(upstream).pipe(client);
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    get refused() {
      return refused;
    },
    cut() {
      down = true;
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
