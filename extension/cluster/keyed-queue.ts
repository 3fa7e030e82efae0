// A work queue keyed like controller-runtime's: one run at a time per key, FIFO across keys, a key
// added while queued is coalesced, a key added while running runs once more afterwards. The worker
// reads current state itself (level-triggered): the queue carries keys, never events.
import { createBackoff, type Backoff, type BackoffOptions } from './backoff.js';

export type WorkOutcome = void | { requeueAfterMs: number };

export interface KeyedQueueOptions {
  /** Keys processed at once (different keys only). */
  concurrency?: number;
  /** Backoff for a key whose worker throws. */
  retry?: BackoffOptions;
  onError?(key: string, error: unknown): void;
}

export interface KeyedQueue {
  add(key: string): void;
  /** Resolves once nothing is queued, running or waiting to be retried soon. */
  idle(): Promise<void>;
  stop(): void;
}

export function createKeyedQueue(
  worker: (key: string) => Promise<WorkOutcome>,
  options: KeyedQueueOptions = {},
): KeyedQueue {
  const concurrency = options.concurrency ?? 4;
  const queued: string[] = [];
  const queuedSet = new Set<string>();
  const running = new Set<string>();
  const dirty = new Set<string>();
  const retries = new Map<string, { backoff: Backoff; timer?: NodeJS.Timeout }>();
  let idleWaiters: (() => void)[] = [];
  let stopped = false;

  const isIdle = () => queued.length === 0 && running.size === 0 && ![...retries.values()].some((r) => r.timer);
  const checkIdle = () => {
    if (!isIdle()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  };

  function add(key: string): void {
    if (stopped) return;
    if (running.has(key)) {
      dirty.add(key);
      return;
    }
    if (queuedSet.has(key)) return;
    const retry = retries.get(key);
    if (retry?.timer) {
      clearTimeout(retry.timer);
      retry.timer = undefined;
    }
    queued.push(key);
    queuedSet.add(key);
    pump();
  }

  function later(key: string, ms: number): void {
    const retry = retries.get(key) ?? { backoff: createBackoff(options.retry) };
    retries.set(key, retry);
    if (retry.timer) clearTimeout(retry.timer);
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      add(key);
    }, ms);
    retry.timer.unref();
  }

  function pump(): void {
    while (!stopped && running.size < concurrency) {
      const index = queued.findIndex((key) => !running.has(key));
      if (index < 0) break;
      const [key] = queued.splice(index, 1) as [string];
      queuedSet.delete(key);
      running.add(key);
      void run(key);
    }
    checkIdle();
  }

  async function run(key: string): Promise<void> {
    try {
      const outcome = await worker(key);
      const retry = retries.get(key);
      if (retry && !retry.timer) retries.delete(key);
      if (outcome && !dirty.has(key)) later(key, outcome.requeueAfterMs);
    } catch (error) {
      options.onError?.(key, error);
      const retry = retries.get(key) ?? { backoff: createBackoff(options.retry) };
      retries.set(key, retry);
      if (!dirty.has(key)) later(key, retry.backoff.next());
    } finally {
      running.delete(key);
      if (dirty.delete(key)) add(key);
      pump();
    }
  }

  return {
    add,
    idle() {
      if (isIdle()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    stop() {
      stopped = true;
      for (const retry of retries.values()) if (retry.timer) clearTimeout(retry.timer);
      retries.clear();
      queued.length = 0;
      queuedSet.clear();
    },
  };
}
