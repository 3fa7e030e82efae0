// A transport over any Duplex stream: TLS sockets, WebSocket streams, a net.Socket where the
// libuv transport is not available, and whatever a caller of broker.handle() passes (the aedes
// habit: the broker core opens no sockets).
import type { Duplex } from 'node:stream';
import { END_GRACE_MS, type Transport, type TransportSink } from './transport.js';

export class StreamTransport implements Transport {
  private closed = false;

  constructor(
    readonly stream: Duplex,
    readonly remoteAddress: string | undefined,
  ) {}

  get pendingBytes(): number {
    return this.stream.writableLength;
  }

  get writable(): boolean {
    return !this.closed && !this.stream.destroyed && this.stream.writable;
  }

  start(sink: TransportSink): void {
    const { stream } = this;
    const closed = (error?: Error): void => {
      if (this.closed) return;
      this.closed = true;
      sink.onClose(error);
    };
    stream.on('data', (chunk: Buffer) => !this.closed && sink.onData(chunk));
    stream.on('drain', () => sink.onDrain());
    stream.on('end', () => closed());
    stream.on('close', () => closed());
    stream.on('error', (err) => closed(err));
  }

  write(data: Buffer | Buffer[]): void {
    if (!Array.isArray(data)) {
      this.stream.write(data);
      return;
    }
    // one writev for the batch
    this.stream.cork();
    for (const buf of data) this.stream.write(buf);
    this.stream.uncork();
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  end(): void {
    this.stream.end();
    setTimeout(() => this.stream.destroy(), END_GRACE_MS).unref();
  }

  destroy(): void {
    this.stream.destroy();
  }
}
