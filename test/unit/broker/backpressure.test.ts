import { describe, expect, it } from 'vitest';
import { Backpressure, type HoldableSource } from '../../../extension/broker/transport/backpressure.js';

/** A publisher that records whether it is being read. */
function publisher(): HoldableSource & { held: boolean } {
  const p = { held: false, holdInput: (held: boolean) => void (p.held = held) };
  return p;
}

/** Route a message from `source` to a congested `sink`, as Connection.run + deliver do. */
function deliver(flow: Backpressure, source: HoldableSource, sink: object, cause: 'output' | 'queue' = 'output') {
  flow.source = source;
  try {
    return flow.deliveringTo(sink, cause);
  } finally {
    flow.source = undefined;
  }
}

describe('Backpressure', () => {
  it('holds a publisher until every congested subscriber of its messages has caught up', () => {
    const flow = new Backpressure({ graceMs: 60_000 });
    const p = publisher();
    const [a, b] = [{}, {}];
    expect(deliver(flow, p, a)).toBe('held');
    expect(deliver(flow, p, b)).toBe('held');
    expect(p.held).toBe(true);
    flow.cleared(a, 'output');
    expect(p.held).toBe(true); // b still holds it
    flow.cleared(b, 'output');
    expect(p.held).toBe(false);
  });

  it('keeps the causes apart: a drained socket does not release a long queue', () => {
    const flow = new Backpressure({ graceMs: 60_000 });
    const p = publisher();
    const sink = {};
    deliver(flow, p, sink, 'queue');
    deliver(flow, p, sink, 'output');
    flow.cleared(sink, 'output');
    expect(p.held).toBe(true);
    flow.cleared(sink, 'queue');
    expect(p.held).toBe(false);
  });

  it('never holds a subscriber for itself, and forgets a publisher that is gone', () => {
    const flow = new Backpressure({ graceMs: 60_000 });
    const self = publisher();
    expect(deliver(flow, self, self)).toBe('held');
    expect(self.held).toBe(false);
    const p = publisher();
    const sink = {};
    deliver(flow, p, sink);
    flow.closed(p);
    p.held = true; // a closed connection is not told to read again
    flow.cleared(sink, 'output');
    expect(p.held).toBe(true);
  });

  it('gives up on a subscriber congested past the grace period: its publishers go on, it is stuck', async () => {
    let stuck!: (sink: object) => void;
    const found = new Promise<object>((resolve) => (stuck = resolve));
    const flow = new Backpressure({ graceMs: 50, onStuck: (sink) => stuck(sink) });
    const p = publisher();
    const sink = {};
    deliver(flow, p, sink);
    expect(p.held).toBe(true);
    expect(await found).toBe(sink);
    expect(p.held).toBe(false);
    expect(deliver(flow, p, sink)).toBe('stuck');
    expect(p.held).toBe(false);
    // once it catches up it is healthy again: the next congestion holds publishers anew
    flow.cleared(sink, 'output');
    expect(deliver(flow, p, sink)).toBe('held');
    expect(p.held).toBe(true);
    flow.closed(sink);
    expect(p.held).toBe(false);
  });
});
