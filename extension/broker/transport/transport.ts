// What a connection needs from the bytes underneath it: the seam between MQTT handling
// (protocol/connection.ts) and sockets. Plain TCP listeners use a transport straight on libuv's
// TCP handle (libuv-tcp.ts) because it costs a fraction of a net.Socket per idle connection; TLS,
// WebSocket and any other Duplex use stream-transport.ts. The connection never sees which.

/** What the transport reports to the connection on top of it. */
export interface TransportSink {
  /** Bytes from the peer; the buffer is the sink's to keep (a fresh one per read). */
  onData(chunk: Buffer): void;
  /** Everything written so far has been taken by the kernel (pendingBytes is back to 0). */
  onDrain(): void;
  /**
   * The peer is gone: end of stream (the transport then ends its side itself), a socket error
   * such as ECONNRESET, or destroy(). Called once; nothing is delivered after it.
   */
  onClose(error?: Error): void;
}

export interface Transport {
  /** The peer's IP address, while the socket is open. */
  readonly remoteAddress: string | undefined;
  /** Bytes written and not yet taken by the kernel: what a slow consumer makes us hold. */
  readonly pendingBytes: number;
  /** False once end() or destroy() was called or the peer is gone. */
  readonly writable: boolean;
  /** Start reading; from now on the sink hears of data, drain and close. */
  start(sink: TransportSink): void;
  /** Write one buffer, or a batch in order in one system call (writev). */
  write(data: Buffer | Buffer[]): void;
  /** Stop reading from the peer (flow control, a refused packet), and start again. */
  pause(): void;
  resume(): void;
  /** Send what is pending, then close. A peer that does not take it within a second is cut off. */
  end(): void;
  /** Close at once; pending output is dropped. */
  destroy(): void;
  /**
   * Transports that buffer whole messages of their own before the connection sees a byte (a
   * WebSocket message) bound them by this; the connection raises it once the client is
   * authenticated. Byte streams need not: the connection's framer bounds what it keeps.
   */
  setMessageLimit?(bytes: number): void;
}

/** How long end() waits for a peer to take the last bytes before closing anyway. */
export const END_GRACE_MS = 1000;
