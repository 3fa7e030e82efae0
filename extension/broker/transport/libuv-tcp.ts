// Plain TCP straight on libuv's TCP handle, without net.Socket: the transport of every plain
// (non-TLS, non-WebSocket) MQTT listener.
//
// Why: memory per idle connection. Measured with 10,000 idle connections that each sent a
// CONNECT (RSS growth per connection, Node 20): mosquitto 0.72 KiB; a bare `net.createServer`
// holding its sockets and doing nothing else 4.22 KiB; the same connections as raw handles
// (`onconnection` → `onread`, `readStart`) 1.2 KiB. A net.Socket is a Duplex with two stream
// states, buffers, listeners and closures around the handle; a broker needs none of that, only
// bytes in and batched bytes out. So with net.Socket the broker could never come near mosquitto,
// whatever it did with its own state.
//
// How it maps onto libuv (the same calls net.Socket makes, see Node's lib/net.js and
// lib/internal/stream_base_commons.js):
// - `new TCP(SERVER)`, `bind`/`bind6`, `listen(backlog)`: uv_tcp_bind, uv_listen. Errors come back
//   as negative errno values (a port in use is EADDRINUSE from listen, as with net.Server).
// - `onconnection(status, client)`: uv_accept gave a new handle; we own it from here.
// - `readStart`/`readStop`: uv_read_start/uv_read_stop. Each read calls the handle's `onread`
//   with an ArrayBuffer; the byte count (or a negative error, UV_EOF at end of stream) and the
//   offset are in the shared `streamBaseState` array, at kReadBytesOrError / kArrayBufferOffset.
// - `writeBuffer`/`writev(req, chunks, true)` with a WriteWrap: uv_try_write first, the rest
//   through uv_write. `streamBaseState[kLastWriteWasAsync]` says whether libuv kept some of it;
//   only then is `req.oncomplete(status, handle)` called later, and only then must the buffers
//   stay referenced (on the req). `writeQueueSize` is libuv's count of bytes not yet written.
//   When more than 64 KiB wait in libuv, later output waits here and goes out as one writev once
//   libuv has caught up; the connection's slow-consumer rules see both (pendingBytes).
// - `shutdown(req)` with a ShutdownWrap: uv_shutdown, the FIN after all queued writes.
// - `close()`: uv_close; a write still queued completes with UV_ECANCELED.
//
// `process.binding('tcp_wrap' / 'stream_wrap')` carries a documentation-only deprecation
// (DEP0111) and is still there in Node 20 and 22. It is checked once at startup; where it is
// missing, listeners fall back to net.Server (see `libuvTcp` and listeners/listener.ts).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { END_GRACE_MS, type Transport, type TransportSink } from './transport.js';

/**
 * The handle's property for the object that owns it: Node's own `owner_symbol`, which every TCP
 * handle already has (net.Socket puts itself there), so that claiming it adds no property to the
 * handle; learned from the first server handle, a symbol of ours where it is not found.
 */
let OWNER: symbol | undefined;
const ownerOf = (handle: TcpHandle): LibuvTcpTransport | undefined =>
  (handle as unknown as Record<symbol, LibuvTcpTransport | undefined>)[OWNER!];

interface TcpHandle {
  onread: (this: TcpHandle, buffer: ArrayBuffer | undefined) => void;
  onconnection: (status: number, client?: TcpHandle) => void;
  readonly writeQueueSize: number;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Buffer): number;
  writev(req: WriteReq, chunks: Buffer[], allBuffers: true): number;
  shutdown(req: ShutdownReq): number;
  close(callback?: () => void): void;
  setNoDelay(on: boolean): number;
  getpeername(out: { address?: string }): number;
  getsockname(out: { port?: number }): number;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
}

interface WriteReq {
  oncomplete: (this: WriteReq, status: number, handle: TcpHandle) => void;
  /** The bytes, kept alive while libuv still has to send them. */
  data?: Buffer | Buffer[];
}

interface ShutdownReq {
  oncomplete: (this: ShutdownReq, status: number, handle: TcpHandle) => void;
}

interface Bindings {
  TCP: new (type: number) => TcpHandle;
  SERVER: number;
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
  UV_EOF: number;
  UV_ENOTCONN: number;
}

function loadBindings(): Bindings | string {
  try {
    const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
    if (typeof binding !== 'function') return 'process.binding is gone';
    const tcp = binding('tcp_wrap');
    const stream = binding('stream_wrap');
    const uv = binding('uv');
    const b = {
      TCP: tcp.TCP,
      SERVER: (tcp.constants as { SERVER?: number } | undefined)?.SERVER,
      WriteWrap: stream.WriteWrap,
      ShutdownWrap: stream.ShutdownWrap,
      state: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError,
      kArrayBufferOffset: stream.kArrayBufferOffset,
      kLastWriteWasAsync: stream.kLastWriteWasAsync,
      UV_EOF: uv.UV_EOF,
      UV_ENOTCONN: uv.UV_ENOTCONN,
    };
    const functions = ['TCP', 'WriteWrap', 'ShutdownWrap'] as const;
    const missing = Object.entries(b).filter(([k, v]) =>
      k === 'state'
        ? !(v instanceof Int32Array)
        : typeof v !== ((functions as readonly string[]).includes(k) ? 'function' : 'number'),
    );
    if (missing.length > 0) return `missing in the bindings: ${missing.map(([k]) => k).join(', ')}`;
    const proto = (b.TCP as { prototype: object }).prototype as Record<string, unknown>;
    for (const m of ['readStart', 'readStop', 'writeBuffer', 'writev', 'shutdown', 'close', 'getpeername'])
      if (typeof proto[m] !== 'function') return `TCP handles have no ${m}()`;
    return b as unknown as Bindings;
  } catch (err) {
    return `process.binding failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

const bindings = loadBindings();

/** Whether this Node offers the raw handles; `reason` says why not. */
export const libuvTcp: { available: true } | { available: false; reason: string } =
  typeof bindings === 'string' ? { available: false, reason: bindings } : { available: true };

function native(): Bindings {
  if (typeof bindings === 'string') throw new Error(`libuv TCP transport unavailable: ${bindings}`);
  return bindings;
}

/** A Node-style system error: `listen EADDRINUSE: address already in use 0.0.0.0:1883`. */
function uvError(errno: number, syscall: string, address?: string, port?: number): NodeJS.ErrnoException {
  const [code, description] = getSystemErrorMap().get(errno) ?? [`UV${errno}`, 'unknown error'];
  const where = address === undefined ? '' : ` ${address}${port === undefined ? '' : `:${port}`}`;
  return Object.assign(new Error(`${syscall} ${code}: ${description}${where}`), {
    errno,
    code,
    syscall,
    ...(address !== undefined ? { address } : {}),
    ...(port !== undefined ? { port } : {}),
  });
}

// flags of a transport
const PAUSED = 1; // the connection asked us not to read
const ENDING = 2; // end() was called: FIN once the queued writes are out, then close
const SHUT = 4; // the FIN is out
const PEER_ENDED = 8; // the peer's FIN (UV_EOF) arrived
const CLOSED = 16;
const WRITING = 32; // libuv still holds bytes of our writes

/**
 * Output of a client that reads slower than we write (more than BATCH_BEYOND waits in libuv):
 * batched here into one writev for when libuv has written the rest, instead of a write request
 * per event-loop turn. Only such clients have one, so it is kept beside the transports.
 */
const backlogs = new Map<LibuvTcpTransport, { chunks: Buffer[]; bytes: number }>();
/** Bytes waiting in libuv beyond which later output is batched in `backlogs`. */
const BATCH_BEYOND = 64 * 1024;

/**
 * One accepted connection. Per connection this is the handle (libuv's uv_tcp_t and Node's
 * TCPWrap, about 1 KiB of native memory) plus this object of three fields: no streams, no
 * listeners, no closures. Write requests exist only while libuv holds unsent bytes.
 */
class LibuvTcpTransport implements Transport {
  private sink: TransportSink | undefined = undefined;
  private flags = 0;

  constructor(private readonly handle: TcpHandle) {
    (handle as unknown as Record<symbol, LibuvTcpTransport>)[OWNER!] = this;
  }

  get remoteAddress(): string | undefined {
    if (this.flags & CLOSED) return undefined;
    const out: { address?: string } = {};
    return this.handle.getpeername(out) === 0 ? out.address : undefined;
  }

  get pendingBytes(): number {
    if (this.flags & CLOSED) return 0;
    return this.handle.writeQueueSize + (this.flags & WRITING ? (backlogs.get(this)?.bytes ?? 0) : 0);
  }

  get writable(): boolean {
    return (this.flags & (ENDING | CLOSED)) === 0;
  }

  start(sink: TransportSink): void {
    this.sink = sink;
    this.handle.onread = onRead;
    const err = this.handle.readStart();
    if (err !== 0) this.close(uvError(err, 'read'));
  }

  write(data: Buffer | Buffer[]): void {
    if (!this.writable) return;
    // libuv keeps being fed while little waits in it (no bubble between its completion callback
    // and our next write); beyond that, output is batched here until it has caught up
    if ((this.flags & WRITING) === 0 || (this.handle.writeQueueSize < BATCH_BEYOND && !backlogs.has(this)))
      return this.send(data);
    let backlog = backlogs.get(this);
    if (!backlog) backlogs.set(this, (backlog = { chunks: [], bytes: 0 }));
    for (const buf of Array.isArray(data) ? data : [data]) {
      backlog.chunks.push(buf);
      backlog.bytes += buf.length;
    }
  }

  /** Hand bytes to libuv, which writes what the socket takes now and queues the rest. */
  private send(data: Buffer | Buffer[]): void {
    const { WriteWrap, state, kLastWriteWasAsync } = native();
    const req = new WriteWrap();
    req.oncomplete = afterWrite;
    const err = Array.isArray(data) ? this.handle.writev(req, data, true) : this.handle.writeBuffer(req, data);
    if (err !== 0) return this.close(uvError(err, 'write'));
    if (state[kLastWriteWasAsync] === 0) return;
    req.data = data;
    this.flags |= WRITING;
  }

  /** What waits behind a write goes to libuv now (it keeps the order). */
  private sendBacklog(): void {
    const backlog = backlogs.get(this);
    if (!backlog) return;
    backlogs.delete(this);
    this.send(backlog.chunks);
  }

  pause(): void {
    if (this.flags & (PAUSED | ENDING | CLOSED)) return;
    this.flags |= PAUSED;
    this.handle.readStop();
  }

  resume(): void {
    if ((this.flags & PAUSED) === 0 || this.flags & (ENDING | CLOSED)) return;
    this.flags &= ~PAUSED;
    this.handle.readStart();
  }

  end(): void {
    if (this.flags & (ENDING | CLOSED)) return;
    this.sendBacklog(); // the FIN goes after it
    this.flags |= ENDING;
    // Read on (and drop what comes) until the peer's FIN: closing with unread input would send
    // an RST, and the peer could lose the last packets we sent before it read them.
    if (this.flags & PAUSED) this.handle.readStart();
    const { ShutdownWrap, UV_ENOTCONN } = native();
    const req = new ShutdownWrap();
    req.oncomplete = afterShutdown;
    const err = this.handle.shutdown(req);
    if (err === 1 || err === UV_ENOTCONN) this.shutDown();
    else if (err !== 0) return this.close();
    setTimeout(() => this.close(), END_GRACE_MS).unref();
  }

  destroy(): void {
    this.close();
  }

  // ---- from libuv -----------------------------------------------------------------------------

  received(chunk: Buffer): void {
    if (this.flags & ENDING) return;
    this.sink?.onData(chunk);
  }

  peerEnded(): void {
    this.flags |= PEER_ENDED;
    if (this.flags & SHUT) return this.close();
    // The peer is done; so are we once our last bytes are out (allowHalfOpen: false, as net does).
    this.end();
    this.notify();
  }

  written(status: number): void {
    if (this.flags & CLOSED) return;
    if (status < 0) return this.close(uvError(status, 'write'));
    if (this.handle.writeQueueSize > 0) return; // an earlier request of ours completed; more to come
    this.flags &= ~WRITING;
    this.sendBacklog();
    if ((this.flags & WRITING) === 0) this.sink?.onDrain();
  }

  shutDown(): void {
    this.flags |= SHUT;
    if (this.flags & PEER_ENDED) this.close();
  }

  close(error?: Error): void {
    if (this.flags & CLOSED) return;
    this.flags |= CLOSED;
    backlogs.delete(this);
    this.handle.close();
    this.notify(error);
  }

  private notify(error?: Error): void {
    const sink = this.sink;
    this.sink = undefined;
    sink?.onClose(error);
  }
}

// Shared by every handle (a closure per connection would cost more than the transport itself).
function onRead(this: TcpHandle, buffer: ArrayBuffer | undefined): void {
  const transport = ownerOf(this);
  if (!transport) return;
  const { state, kReadBytesOrError, kArrayBufferOffset, UV_EOF } = native();
  const n = state[kReadBytesOrError];
  if (n > 0) transport.received(Buffer.from(buffer!, state[kArrayBufferOffset], n));
  else if (n === UV_EOF) transport.peerEnded();
  else if (n < 0) transport.close(uvError(n, 'read'));
}

function afterWrite(this: WriteReq, status: number, handle: TcpHandle): void {
  this.data = undefined;
  ownerOf(handle)?.written(status);
}

function afterShutdown(this: ShutdownReq, _status: number, handle: TcpHandle): void {
  ownerOf(handle)?.shutDown();
}

export interface LibuvTcpServer {
  readonly port: number;
  /** Stop accepting; connections already accepted are left to their owners. */
  close(): Promise<void>;
}

/**
 * Listen on host:port; every accepted connection is handed over as a Transport (Nagle off: the
 * connection batches its writes per event-loop turn itself). Rejects with EADDRINUSE & co. as
 * net.Server.listen does.
 */
export async function listenLibuvTcp(
  host: string,
  port: number,
  onConnection: (transport: Transport) => void,
  onAcceptError: (err: Error) => void,
): Promise<LibuvTcpServer> {
  const { TCP, SERVER } = native();
  const address = isIP(host) ? host : (await lookup(host)).address;
  const server = new TCP(SERVER);
  OWNER ??=
    Object.getOwnPropertySymbols(server).find((s) => s.description === 'owner_symbol') ?? Symbol('iotmq.transport');
  const fail = (err: number, syscall: string): never => {
    server.close();
    throw uvError(err, syscall, address, port);
  };
  const bound = isIP(address) === 6 ? server.bind6(address, port, 0) : server.bind(address, port);
  if (bound !== 0) fail(bound, 'bind');
  server.onconnection = (status, client) => {
    if (status !== 0 || !client) return onAcceptError(uvError(status, 'accept'));
    client.setNoDelay(true);
    onConnection(new LibuvTcpTransport(client));
  };
  const listening = server.listen(511);
  if (listening !== 0) fail(listening, 'listen');
  const out: { port?: number } = {};
  server.getsockname(out);
  return {
    port: out.port!,
    close: () => new Promise<void>((resolve) => server.close(resolve)),
  };
}
