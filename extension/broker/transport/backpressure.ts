// Backpressure from subscribers to publishers: when a message goes to a subscriber whose socket
// already holds more than the high-water mark of unsent output, the connection that published it
// stops being read until that subscriber has caught up (its output drained). Its bytes then wait
// in TCP, in its own socket buffers and finally in the publisher, instead of being read at full
// speed and dropped for want of room. A QoS 0 message is dropped only for a subscriber that is
// really stuck: one that has stayed above the mark for the grace period stops holding publishers
// back (one dead client must not stall everybody) and loses what goes beyond its queue limit.
//
// One per broker. Only congested subscribers and the publishers they hold have entries here, so an
// idle connection costs nothing; the connections keep their own reasons for not reading
// (connection.ts), this only says "hold" and "release".

/** A connection as a publisher: something whose reading can be held. */
export interface HoldableSource {
  /** Stop (true) or start again (false) reading on account of backpressure. */
  holdInput(held: boolean): void;
}

/**
 * What happens to a message for a congested subscriber. `held`: queued, and its publisher (if
 * any) held until the subscriber drains. `stuck`: the subscriber is stuck, the message is queued
 * while within its queue limit and dropped beyond it.
 */
export type Congestion = 'held' | 'stuck';

/**
 * Why a subscriber is congested: its socket holds more than the high-water mark of unsent output
 * (`output`), or its session's queue is long because its Receive Maximum is in flight (`queue`).
 * Each clears on its own (a drained socket says nothing about the queue); it holds publishers
 * while either lasts.
 */
export type CongestionCause = 'output' | 'queue';
const CAUSE = { output: 1, queue: 2 } as const;

interface Congested {
  /** performance.now() when it became congested (and has not been clear since). */
  since: number;
  /** CAUSE bits. */
  causes: number;
  stuck: boolean;
  /** Gives up on it after the grace period (a timer per congestion, not per message). */
  timer: NodeJS.Timeout | undefined;
  /** The publishers held for it (a small array: typically a handful). */
  held: HoldableSource[];
}

export interface BackpressureOptions {
  /** How long a subscriber may hold publishers back before it counts as stuck. */
  graceMs: number;
  /** A subscriber was found stuck (for a log line). */
  onStuck?(sink: object, heldMs: number): void;
}

export class Backpressure {
  /** The connection whose packets are being handled right now: the publisher of what is routed. */
  source: HoldableSource | undefined = undefined;
  private readonly congested = new Map<object, Congested>();
  /** How many congested subscribers hold each held publisher. */
  private readonly holds = new Map<HoldableSource, number>();

  constructor(private readonly options: BackpressureOptions) {}

  /**
   * A message is going to `sink`, which is congested for `cause`. Holds the publisher being
   * handled (unless the sink is stuck) and says which case it is.
   */
  deliveringTo(sink: object, cause: CongestionCause): Congestion {
    let c = this.congested.get(sink);
    if (!c) {
      const entry: Congested = (c = { since: performance.now(), causes: 0, stuck: false, timer: undefined, held: [] });
      this.congested.set(sink, entry);
      // everything that publishes to it is held by then, so no delivery would notice: a timer
      entry.timer = setTimeout(() => this.giveUp(sink, entry), this.options.graceMs).unref();
    }
    c.causes |= CAUSE[cause];
    if (c.stuck) return 'stuck';
    const source = this.source;
    if (source !== undefined && source !== sink && !c.held.includes(source)) {
      c.held.push(source);
      const n = this.holds.get(source) ?? 0;
      this.holds.set(source, n + 1);
      if (n === 0) source.holdInput(true);
    }
    return 'held';
  }

  /**
   * The subscriber caught up on `cause` (its output drained, its queue shortened). Once nothing
   * else keeps it congested, what it held is released: it is healthy again.
   */
  cleared(sink: object, cause: CongestionCause): void {
    const c = this.congested.get(sink);
    if (!c) return;
    c.causes &= ~CAUSE[cause];
    if (c.causes === 0) this.forget(sink, c);
  }

  /** A connection is gone: as a subscriber it holds nobody any more; as a publisher it needs no release. */
  closed(conn: object): void {
    const c = this.congested.get(conn);
    if (c) this.forget(conn, c);
    this.holds.delete(conn as HoldableSource);
  }

  private forget(sink: object, c: Congested): void {
    this.congested.delete(sink);
    clearTimeout(c.timer);
    this.release(c);
  }

  private giveUp(sink: object, c: Congested): void {
    c.stuck = true;
    c.timer = undefined;
    this.options.onStuck?.(sink, performance.now() - c.since);
    this.release(c);
  }

  private release(c: Congested): void {
    const held = c.held;
    c.held = [];
    for (const source of held) {
      const n = this.holds.get(source);
      if (n === undefined) continue; // closed meanwhile
      if (n > 1) this.holds.set(source, n - 1);
      else {
        this.holds.delete(source);
        source.holdInput(false);
      }
    }
  }
}
