// A network listener: TCP, TLS, or WebSocket (plain or TLS) in front of broker.accept(). The
// broker core never sees sockets, only transports and a ConnectionInfo. Plain TCP runs on libuv's
// handles directly (transport/libuv-tcp.ts), everything else on Node's streams.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { componentLogger } from '../../../src/common/log.js';
import type { Broker } from '../broker.js';
import type { BrokerConfig, ListenerSpec, Named } from '../config.js';
import type { ConnectionInfo } from '../protocol/context.js';
import { libuvTcp, listenLibuvTcp } from '../transport/libuv-tcp.js';
import { StreamTransport } from '../transport/stream-transport.js';
import type { WebSocket } from 'ws';

export interface RunningListener {
  name: string;
  port: number;
  protocol: 'mqtt' | 'websockets';
  tls: boolean;
  /** CA file clients should trust when the certificate was generated (tls.automatic). */
  caFile?: string;
  close(): Promise<void>;
}

export interface ListenerOptions {
  /** PEM bundle of CAs trusted for client certificates (X.509 authentication on this listener). */
  clientCa?: string;
}

export async function startListener(
  broker: Broker,
  config: BrokerConfig,
  listener: Named<ListenerSpec>,
  options: ListenerOptions = {},
): Promise<RunningListener> {
  const { spec, name } = listener;
  const protocol = spec.protocol ?? 'mqtt';
  // TLS material (certificate generation) and WebSocket support load only for listeners that use
  // them: together they were a fifth of a plain broker's memory at rest.
  const material = spec.tls ? await (await import('./tls-material.js')).resolveServerTls(config, listener) : undefined;
  const tlsOptions: tls.TlsOptions | undefined = material && {
    cert: material.cert,
    key: material.key,
    // Client certificates are requested when X.509 authentication is configured, but checked at
    // CONNECT rather than in the handshake, so a bad one gets a CONNACK reason code.
    ...(options.clientCa ? { requestCert: true, rejectUnauthorized: false, ca: options.clientCa } : {}),
  };

  if (protocol === 'mqtt' && !tlsOptions) {
    const server = await listenPlainTcp(broker, name, config.bindAddress ?? '0.0.0.0', spec.port);
    return { name, port: server.port, protocol, tls: false, close: () => server.close() };
  }

  // Until a socket becomes an MQTT connection (TLS handshake, WebSocket upgrade) it answers to
  // this deadline, the broker's CONNECT timeout; from then on to the broker's own.
  const deadlines = new PreMqttDeadlines(broker.limits.connectTimeout * 1000);
  const handle = (transport: StreamTransport, socket: net.Socket): void => {
    deadlines.met(socket);
    // The broker batches its writes per event-loop turn itself; Nagle on top of that only holds
    // the batch back until the peer's delayed ACK, tens of milliseconds.
    socket.setNoDelay(true);
    broker.accept(transport, connectionInfo(name, socket));
  };
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    deadlines.start(socket);
    socket.on('close', () => sockets.delete(socket));
  };

  let server: net.Server;
  if (protocol === 'websockets') {
    const { WebSocketServer, createWebSocketStream } = await import('ws');
    const httpServer = tlsOptions ? https.createServer(tlsOptions) : http.createServer();
    httpServer.on('request', (_req, res) =>
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'),
    );
    const wss = new WebSocketServer({
      server: httpServer,
      // each connection lowers it until its client is authenticated (WebSocketTransport)
      maxPayload: broker.limits.maximumPacketSize + 5,
      // MQTT over WebSocket uses the `mqtt` subprotocol [MQTT-6.0.0-3]
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    });
    wss.on('connection', (ws, req) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {});
      handle(new WebSocketTransport(stream, req.socket.remoteAddress, ws), req.socket);
    });
    server = httpServer;
  } else {
    server = tls.createServer(tlsOptions!, (socket) =>
      handle(new StreamTransport(socket, socket.remoteAddress), socket),
    );
  }
  server.on('connection', track);
  server.on('tlsClientError', () => {}); // a failed handshake concerns that client only
  server.listen(spec.port, config.bindAddress ?? '0.0.0.0');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;

  return {
    name,
    port,
    protocol,
    tls: !!tlsOptions,
    caFile: material?.caFile,
    async close() {
      const closed = once(server, 'close');
      server.close();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * Deadlines of sockets that are not MQTT connections yet. A socket that never sends a TLS
 * ClientHello or an HTTP upgrade would otherwise stay open for ever (Node's TLS handshake timeout
 * is an idle timer that a trickle of bytes keeps resetting). Keyed by the peer's address and
 * port, which the raw socket and the TLS socket on top of it share.
 */
class PreMqttDeadlines {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  constructor(private readonly ms: number) {}

  start(socket: net.Socket): void {
    const key = peerKey(socket);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      socket.destroy();
    }, this.ms);
    this.timers.set(key, timer);
    socket.once('close', () => {
      if (this.timers.get(key) !== timer) return;
      clearTimeout(timer);
      this.timers.delete(key);
    });
  }

  met(socket: net.Socket): void {
    const key = peerKey(socket);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }
}

function peerKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/**
 * MQTT over WebSocket: ws assembles each WebSocket message whole before the connection sees a
 * byte of it, so its message limit is what an unauthenticated client can make the broker hold.
 * The connection sets it (transport.ts setMessageLimit) to a CONNECT's worth first and to the
 * broker's packet limit once the client is authenticated.
 */
class WebSocketTransport extends StreamTransport {
  constructor(
    stream: Duplex,
    remoteAddress: string | undefined,
    private readonly ws: WebSocket,
  ) {
    super(stream, remoteAddress);
  }

  setMessageLimit(bytes: number): void {
    // ws has the limit per server only (maxPayload); its receiver keeps a copy per connection
    const receiver = (this.ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
    if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes;
    else if (!warnedNoMessageLimit) {
      warnedNoMessageLimit = true;
      componentLogger('broker').warn('this ws version has no per-connection message limit: only maxPayload applies');
    }
  }
}
let warnedNoMessageLimit = false;

export type PlainTcpTransport = 'libuv' | 'net';

/**
 * What plain TCP listeners run on: libuv's handles where this Node has them, net.Server where it
 * does not or where IOTMQ_BROKER_TRANSPORT=net asks for it. Logged once per process.
 */
export function plainTcpTransport(): PlainTcpTransport {
  const wanted = process.env.IOTMQ_BROKER_TRANSPORT === 'net' ? 'net' : 'libuv';
  const kind = wanted === 'libuv' && libuvTcp.available ? 'libuv' : 'net';
  if (!announced) {
    announced = true;
    const log = componentLogger('broker');
    if (kind === 'libuv') log.info('plain TCP listeners run on libuv TCP handles');
    else if (!libuvTcp.available) log.warn({ reason: libuvTcp.reason }, 'plain TCP listeners fall back to net.Server');
    else log.info('plain TCP listeners run on net.Server (IOTMQ_BROKER_TRANSPORT=net)');
  }
  return kind;
}
let announced = false;

export interface PlainTcpServer {
  port: number;
  /** Stop accepting and cut off the listener's connections. */
  close(): Promise<void>;
}

/** A plain TCP listener: every accepted connection goes to broker.accept() under `listener`. */
export async function listenPlainTcp(
  broker: Broker,
  listener: string,
  host: string,
  port: number,
  transport: PlainTcpTransport = plainTcpTransport(),
): Promise<PlainTcpServer> {
  const info: ConnectionInfo = Object.freeze({ listener }); // shared by all its connections
  if (transport === 'libuv') {
    const log = componentLogger('broker', { listener });
    const server = await listenLibuvTcp(
      host,
      port,
      (t) => broker.accept(t, info),
      (err) => log.warn({ err }, 'accept failed'),
    );
    return {
      port: server.port,
      async close() {
        await server.close();
        broker.dropConnections(listener);
      },
    };
  }
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    broker.accept(new StreamTransport(socket, socket.remoteAddress), info);
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      const closed = once(server, 'close');
      server.close();
      broker.dropConnections(listener);
      await closed;
    },
  };
}

function connectionInfo(listener: string, socket: net.Socket): ConnectionInfo {
  const info: ConnectionInfo = { listener };
  if (socket instanceof tls.TLSSocket) {
    const chain = peerChain(socket);
    if (chain.length > 0) {
      info.certificateChain = chain;
      info.certificateAuthorized = socket.authorized;
    }
  }
  return info;
}

/** The client's certificates as PEM, leaf first, as the TLS handshake delivered them. */
function peerChain(socket: tls.TLSSocket): string[] {
  const out: string[] = [];
  let cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    // 64-character lines; a body whose length is a multiple of 64 must not get an empty line before
    // END (OpenSSL then refuses the PEM: a CA certificate of 384 DER bytes made X.509 clients fail)
    const lines = cert.raw
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n');
    out.push(`-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`);
    cert = cert.issuerCertificate;
  }
  return out;
}
