// Who gets the CPU for password hashing. A PBKDF2 check costs ~100 ms of a core on purpose, so
// unbounded, first-come hashing let a few hundred wrong-password CONNECTs from one address hold a
// legitimate login back for tens of seconds, and kept hashing for clients long gone. The checks go
// through a FairWorkQueue (src/common/fair-work-queue.ts): at most `concurrency` at once (the rest
// of libuv's thread pool stays free for file I/O and DNS), round robin by source address, a check
// whose connection has closed skipped, bounded per address and in all. The broker's own rule on
// top: within one address, the newest CONNECT of a client id goes first, since if it is accepted
// the older ones would only be taken over by it (protocol/connection-list.ts closes them).
//
// One queue per process: the CPU it shares out is the process's.
import { availableParallelism } from 'node:os';
import {
  FairWorkQueue,
  type FairWorkQueueLimits,
  type SourceOrder,
  type WorkRequest,
} from '../../../src/common/fair-work-queue.js';

export type { NotRun } from '../../../src/common/fair-work-queue.js';

export interface HashRequest extends WorkRequest {
  /** The client's IP address; unknown addresses share one queue. */
  source: string | undefined;
  clientId: string;
  /** False once the connection has closed: the hash is not worth doing any more. */
  stillWanted(): boolean;
}

export const DEFAULT_PASSWORD_QUEUE_LIMITS: FairWorkQueueLimits = {
  concurrency: Math.max(1, Math.min(4, availableParallelism())),
  maxPerSource: 32,
  maxWaiting: 1024,
};

/** Within one address, the newest attempt of a client id first. */
export const newestAttemptFirst: SourceOrder<HashRequest> = {
  // the first waiting client id's latest attempt
  pick: (waiting) => waiting.findLastIndex((r) => r.clientId === waiting[0].clientId),
  // full for this address: an older check of the same client id makes room (it would be taken over
  // anyway if this one succeeds); otherwise the new one is refused
  makeRoom: (waiting, incoming) => waiting.findIndex((r) => r.clientId === incoming.clientId),
};

export class PasswordQueue extends FairWorkQueue<HashRequest> {
  constructor(limits: FairWorkQueueLimits = DEFAULT_PASSWORD_QUEUE_LIMITS) {
    super(limits, newestAttemptFirst);
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
