// Exponential backoff with jitter (delay = random in [c/2, c], c = min(max, initial · 2^attempt)): spreads
// reconnecting agents and retrying reconcilers out instead of having them retry in step.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export interface Backoff {
  /** The delay before the next attempt; each call doubles the ceiling. */
  next(): number;
  reset(): void;
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initial = options.initialMs ?? 200;
  const max = options.maxMs ?? 30_000;
  let attempts = 0;
  return {
    next() {
      const ceiling = Math.min(max, initial * 2 ** attempts);
      attempts += 1;
      return Math.max(1, Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
