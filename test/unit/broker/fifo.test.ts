import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../extension/broker/session/fifo.js';

describe('Fifo', () => {
  it('keeps the order through pushes and shifts that interleave across compactions', () => {
    const q = new Fifo<number>();
    const expected: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 997; i++) {
        q.push(next);
        expected.push(next++);
      }
      for (let i = 0; i < 611; i++) expect(q.shift()).toBe(expected.shift());
      expect(q.length).toBe(expected.length);
    }
    expect([...q]).toEqual(expected);
    while (expected.length > 0) expect(q.shift()).toBe(expected.shift());
    expect(q.shift()).toBeUndefined();
    expect(q.length).toBe(0);
  });

  it('takes from the head in constant time however long the queue', () => {
    // 200,000 shifts from a 200,000-long queue: Array.shift() copied the rest every time
    const q = new Fifo<number>();
    for (let i = 0; i < 200_000; i++) q.push(i);
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < 200_000; i++) sum += q.shift()!;
    expect(sum).toBe((199_999 * 200_000) / 2);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
