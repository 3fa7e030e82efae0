// The scheduling rules of the queue for expensive work (password and client-secret hashing):
// concurrency, round robin by source, the per-source and total bounds, skipping work whose caller
// has gone, and the per-source ordering hook.
import { describe, expect, it } from 'vitest';
import { FairWorkQueue, type FairWorkQueueLimits, type WorkRequest } from '../../../src/common/fair-work-queue.js';

interface Tagged extends WorkRequest {
  name: string;
}

/** A queue whose jobs run until released, recording the order in which they started. */
function harness(
  limits: Partial<FairWorkQueueLimits> = {},
  order?: ConstructorParameters<typeof FairWorkQueue<Tagged>>[1],
) {
  const queue = new FairWorkQueue<Tagged>({ concurrency: 1, maxWaiting: 100, maxPerSource: 100, ...limits }, order);
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const submit = (source: string | undefined, name: string, extra: Partial<Tagged> = {}) =>
    queue.run({ source, name, ...extra }, () => {
      started.push(name);
      return new Promise<string>((resolve) => release.set(name, () => resolve(name)));
    });
  /** Ends a running job and lets the queue start the next. */
  const finish = async (name: string) => {
    release.get(name)!();
    await new Promise((r) => setImmediate(r));
  };
  return { queue, started, submit, finish };
}

describe('FairWorkQueue', () => {
  it('runs at most `concurrency` jobs at once and starts the next as one ends', async () => {
    const { queue, started, submit, finish } = harness({ concurrency: 2 });
    const results = ['a', 'b', 'c'].map((n) => submit('s', n));
    expect(started).toEqual(['a', 'b']);
    expect([queue.running, queue.waiting]).toEqual([2, 1]);
    await finish('a');
    expect(started).toEqual(['a', 'b', 'c']);
    await finish('b');
    await finish('c');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    expect([queue.running, queue.waiting]).toEqual([0, 0]);
  });

  it('serves waiting jobs round robin by source, unknown sources sharing one turn', async () => {
    const { started, submit, finish } = harness();
    submit('x', 'x0'); // runs at once
    for (const n of ['x1', 'x2', 'x3']) submit('x', n);
    submit('y', 'y1');
    submit(undefined, 'u1');
    submit(undefined, 'u2');
    for (const n of ['x0', 'x1', 'y1', 'u1', 'x2', 'u2']) await finish(n);
    expect(started).toEqual(['x0', 'x1', 'y1', 'u1', 'x2', 'u2', 'x3']);
  });

  it("refuses at once beyond a source's bound ('source-busy') and beyond the total bound ('busy')", async () => {
    const { started, submit, finish } = harness({ maxPerSource: 2, maxWaiting: 3 });
    submit('x', 'x0'); // runs: the bound counts waiting jobs only
    submit('x', 'x1');
    submit('x', 'x2');
    expect(await submit('x', 'x3')).toBe('source-busy');
    submit('y', 'y1');
    expect(await submit('z', 'z1')).toBe('busy');
    expect(await submit('y', 'y2')).toBe('busy');
    for (const n of ['x0', 'x1', 'y1']) await finish(n);
    expect(started).toEqual(['x0', 'x1', 'y1', 'x2']);
  });

  it('with perSourceCountsRunning, a running job holds its place in the source bound until it ends', async () => {
    const { submit, finish } = harness({ concurrency: 2, maxPerSource: 2, perSourceCountsRunning: true });
    const first = submit('x', 'x0');
    submit('x', 'x1');
    expect(await submit('x', 'x2')).toBe('source-busy');
    await finish('x0');
    expect(await first).toBe('x0');
    const third = submit('x', 'x3');
    await finish('x1');
    await finish('x3');
    expect(await third).toBe('x3');
  });

  it('keeps serving other sources after refusing a new source for the total bound', async () => {
    const { started, submit, finish } = harness({ maxWaiting: 1 });
    submit('x', 'x0');
    submit('x', 'x1');
    expect(await submit('y', 'y1')).toBe('busy');
    await finish('x0');
    await finish('x1');
    const later = submit('x', 'x2');
    expect(started).toEqual(['x0', 'x1', 'x2']);
    await finish('x2');
    expect(await later).toBe('x2');
  });

  it("skips, without running, a job whose caller has gone by its turn ('abandoned')", async () => {
    const { started, submit, finish } = harness();
    let connected = true;
    const controller = new AbortController();
    submit('x', 'x0');
    const byCallback = submit('x', 'x1', { stillWanted: () => connected });
    const bySignal = submit('y', 'y1', { signal: controller.signal });
    submit('z', 'z1');
    connected = false;
    controller.abort();
    await finish('x0');
    expect(await byCallback).toBe('abandoned');
    expect(await bySignal).toBe('abandoned');
    expect(started).toEqual(['x0', 'z1']);
  });

  it('passes on a failure of the work and frees its slot', async () => {
    const queue = new FairWorkQueue({ concurrency: 1, maxWaiting: 10, maxPerSource: 10 });
    const failed = queue.run({ source: 'x' }, () => Promise.reject(new Error('boom')));
    const next = queue.run({ source: 'x' }, async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ok');
    expect([queue.running, queue.waiting]).toEqual([0, 0]);
  });

  it("lets an ordering hook pick a source's next job and make room when the source is full", async () => {
    // the broker's rule: the newest attempt of a name first; a newer attempt displaces an older one
    const sameName = (a: Tagged, b: Tagged) => a.name.split('#')[0] === b.name.split('#')[0];
    const { started, submit, finish } = harness(
      { maxPerSource: 3 },
      {
        pick: (waiting) => waiting.findLastIndex((r) => sameName(r, waiting[0])),
        makeRoom: (waiting, incoming) => waiting.findIndex((r) => sameName(r, incoming)),
      },
    );
    submit('x', 'a#0'); // runs
    const older = submit('x', 'a#1');
    submit('x', 'b#1');
    submit('x', 'a#2');
    expect(await submit('x', 'c#1')).toBe('source-busy'); // full, no older c to displace
    submit('x', 'a#3'); // full: displaces a#1, leaving b#1 first in line
    expect(await older).toBe('source-busy');
    for (const n of ['a#0', 'b#1', 'a#3']) await finish(n);
    expect(started).toEqual(['a#0', 'b#1', 'a#3', 'a#2']);
  });
});
