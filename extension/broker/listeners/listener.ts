// A network listener: TCP, TLS, or WebSocket (plain or TLS) in front of broker.handle(). The
// broker core never sees sockets, only duplex streams and a ConnectionInfo.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Broker } from '../broker.js';
import type { BrokerConfig, ListenerSpec, Named } from '../config.js';
import type { ConnectionInfo } from '../protocol/context.js';
import { resolveServerTls } from './tls-material.js';

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
  const material = spec.tls ? await resolveServerTls(config, listener) : undefined;
  const tlsOptions: tls.TlsOptions | undefined = material && {
    cert: material.cert,
    key: material.key,
    // Client certificates are requested when X.509 authentication is configured, but checked at
    // CONNECT rather than in the handshake, so a bad one gets a CONNACK reason code.
    ...(options.clientCa ? { requestCert: true, rejectUnauthorized: false, ca: options.clientCa } : {}),
  };

  const handle = (stream: Duplex, socket: net.Socket): void => {
    // The broker batches its writes per event-loop turn itself (cork/uncork); Nagle on top of
    // that only holds the batch back until the peer's delayed ACK, tens of milliseconds.
    socket.setNoDelay(true);
    broker.handle(stream, connectionInfo(name, socket));
  };
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };

  let server: net.Server;
  if (protocol === 'websockets') {
    const httpServer = tlsOptions ? https.createServer(tlsOptions) : http.createServer();
    httpServer.on('request', (_req, res) =>
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'),
    );
    const wss = new WebSocketServer({
      server: httpServer,
      // MQTT over WebSocket uses the `mqtt` subprotocol [MQTT-6.0.0-3]
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    });
    wss.on('connection', (ws, req) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {});
      handle(stream, req.socket);
    });
    server = httpServer;
    server.on('connection', track);
    server.on('secureConnection', track);
  } else if (tlsOptions) {
    server = tls.createServer(tlsOptions, (socket) => handle(socket, socket));
    server.on('secureConnection', track);
  } else {
    server = net.createServer((socket) => handle(socket, socket));
    server.on('connection', track);
  }
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

function connectionInfo(listener: string, socket: net.Socket): ConnectionInfo {
  const info: ConnectionInfo = { listener, remoteAddress: socket.remoteAddress };
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
    out.push(
      `-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`,
    );
    cert = cert.issuerCertificate;
  }
  return out;
}
