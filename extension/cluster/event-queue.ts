// A push-to-pull bridge: producers push, one consumer iterates. Used for watches, where events
// arrive from callbacks but consumers want `for await`.

export interface EventQueue<T> extends AsyncIterable<T> {
  push(item: T): void;
  /** Ends the iteration after what is queued; with an error, the iterator throws it. */
  end(error?: unknown): void;
}

export function createEventQueue<T>(signal?: AbortSignal): EventQueue<T> {
  const items: T[] = [];
  let done = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const end = (error?: unknown) => {
    if (done) return;
    done = true;
    failure = error;
    notify();
  };
  signal?.addEventListener('abort', () => end(), { once: true });
  if (signal?.aborted) end();
  return {
    push(item) {
      if (done) return;
      items.push(item);
      notify();
    },
    end,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length) {
          yield items.shift()!;
          continue;
        }
        if (done) {
          if (failure !== undefined) throw failure;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
