// Who gets the CPU for password hashing. A PBKDF2 check costs ~100 ms of a core on purpose, so
// unbounded, first-come hashing let a few hundred wrong-password CONNECTs from one address hold a
// legitimate login back for tens of seconds, and kept hashing for clients long gone. Here:
//
// - at most `concurrency` hashes run at once (the rest of libuv's thread pool stays free for
//   file I/O and DNS);
// - waiting checks are served round robin by source address, so a flood from one address costs
//   every other address one hash of waiting, not the whole flood;
// - within one address, the newest CONNECT of a client id goes first: if it is accepted, the older
//   ones would only be taken over by it (protocol/connection-list.ts closes them);
// - a check whose connection has closed meanwhile is skipped;
// - the queue is bounded per address and in all: beyond that a check is refused at once.
//
// One queue per process: the CPU it shares out is the process's.
import { availableParallelism } from 'node:os';

export interface HashRequest {
  /** The client's IP address; unknown addresses share one queue. */
  source: string | undefined;
  clientId: string;
  /** False once the connection has closed: the hash is not worth doing any more. */
  stillWanted(): boolean;
}

/** Why a check did not run. */
export type NotRun = 'abandoned' | 'source-busy' | 'busy';

export interface PasswordQueueLimits {
  concurrency: number;
  /** Checks that may wait for one source address. */
  maxWaitingPerSource: number;
  /** Checks that may wait in all. */
  maxWaiting: number;
}

export const DEFAULT_PASSWORD_QUEUE_LIMITS: PasswordQueueLimits = {
  concurrency: Math.max(1, Math.min(4, availableParallelism())),
  maxWaitingPerSource: 32,
  maxWaiting: 1024,
};

interface Job {
  request: HashRequest;
  start(): void;
  skip(reason: NotRun): void;
}

export class PasswordQueue {
  private running = 0;
  private waiting = 0;
  /** Waiting jobs per source address, in the order the sources are served next. */
  private readonly sources = new Map<string, Job[]>();

  constructor(private readonly limits: PasswordQueueLimits = DEFAULT_PASSWORD_QUEUE_LIMITS) {}

  /** Runs `hash` when the request's turn comes; resolves to its result, or to why it did not run. */
  run<T>(request: HashRequest, hash: () => Promise<T>): Promise<T | NotRun> {
    return new Promise<T | NotRun>((resolve, reject) => {
      const job: Job = {
        request,
        start: () => {
          this.running++;
          hash()
            .then(resolve, reject)
            .finally(() => {
              this.running--;
              this.next();
            });
        },
        skip: resolve,
      };
      this.enqueue(job);
      this.next();
    });
  }

  private enqueue(job: Job): void {
    const key = job.request.source ?? '';
    let queue = this.sources.get(key);
    if (!queue) this.sources.set(key, (queue = []));
    if (queue.length >= this.limits.maxWaitingPerSource) {
      // full for this address: an older check of the same client id makes room (it would be
      // taken over anyway if this one succeeds); otherwise this one is refused
      const older = queue.findIndex((j) => j.request.clientId === job.request.clientId);
      if (older < 0) return job.skip('source-busy');
      queue.splice(older, 1)[0].skip('source-busy');
      this.waiting--;
    }
    if (this.waiting >= this.limits.maxWaiting) return job.skip('busy');
    queue.push(job);
    this.waiting++;
  }

  private next(): void {
    while (this.running < this.limits.concurrency && this.waiting > 0) {
      const job = this.take();
      if (!job.request.stillWanted()) job.skip('abandoned');
      else job.start();
    }
  }

  /** The next job: round robin over sources, the newest attempt of a client id first. */
  private take(): Job {
    const [key, queue] = this.sources.entries().next().value as [string, Job[]];
    const first = queue[0];
    let pick = 0;
    for (let i = queue.length - 1; i > 0; i--)
      if (queue[i].request.clientId === first.request.clientId) {
        pick = i;
        break;
      }
    const [job] = queue.splice(pick, 1);
    this.waiting--;
    this.sources.delete(key);
    if (queue.length > 0) this.sources.set(key, queue); // to the back of the round
    return job;
  }
}

/**
 * Failed password checks per source address, as a token bucket: `burst` failures at once, then
 * one per `refillMs`. An address out of tokens is refused before any hashing (the caller answers
 * v5 0x9F Connection rate exceeded, 3.1.1 3 Server unavailable): an immediate answer costs
 * nothing, where a delay would hold the attacker's sockets open at our expense, and it tells a
 * well-behaved client to back off. Successes cost no token, so a legitimate client behind the
 * same address is only held up by someone else failing there.
 */
export class FailureThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst = 10,
    private readonly refillMs = 3000,
    private readonly maxSources = 10_000,
  ) {}

  allows(source: string | undefined, now = Date.now()): boolean {
    return this.tokens(source ?? '', now) >= 1;
  }

  failed(source: string | undefined, now = Date.now()): void {
    const key = source ?? '';
    const tokens = this.tokens(key, now);
    this.buckets.delete(key); // re-inserted last: the map's order is least recently failed first
    this.buckets.set(key, { tokens: Math.max(0, tokens - 1), at: now });
    if (this.buckets.size > this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
  }

  private tokens(key: string, now: number): number {
    const b = this.buckets.get(key);
    if (!b) return this.burst;
    return Math.min(this.burst, b.tokens + (now - b.at) / this.refillMs);
  }
}
