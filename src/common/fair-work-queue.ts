// Who gets the CPU for deliberately expensive work (password and client-secret hashing). First
// come, first served let a flood from one address hold everyone else back for as long as the
// flood took, and kept hashing for callers long gone. Here:
//
// - at most `concurrency` jobs run at once;
// - waiting jobs are served round robin by source address, so a flood from one address costs
//   every other address one round of running jobs, not the whole flood;
// - within one source, jobs go oldest first unless an ordering hook picks another;
// - a job whose caller has gone (`stillWanted()` false, or `signal` aborted) when its turn comes
//   is skipped, not run;
// - the queue is bounded per source and in all: beyond that a job is refused at once, which costs
//   nothing, where queueing it would only make work nobody can wait for.
//
// Callers keep their own policy on top (what a refusal answers, what runs for an unknown user).

export interface WorkRequest {
  /** Who asked, usually an IP address; jobs of unknown sources share one queue. */
  source: string | undefined;
  /** False once the caller has gone: the work is not worth doing any more. */
  stillWanted?(): boolean;
  /** Aborted once the caller has gone (an alternative to `stillWanted`). */
  signal?: AbortSignal;
}

/** Why a job did not run: its caller had gone, its source's queue was full, or the whole queue was. */
export type NotRun = 'abandoned' | 'source-busy' | 'busy';

export interface FairWorkQueueLimits {
  /** Jobs that may run at once. */
  concurrency: number;
  /** Jobs that may wait in all. */
  maxWaiting: number;
  /** Jobs one source may have waiting (with `perSourceCountsRunning`, waiting or running). */
  maxPerSource: number;
  /** Whether a source's running jobs count towards `maxPerSource`; default false. */
  perSourceCountsRunning?: boolean;
}

/** How the jobs waiting for one source are ordered; `waiting` is oldest first. */
export interface SourceOrder<R extends WorkRequest> {
  /** The index of the job to run next. */
  pick(waiting: readonly R[]): number;
  /**
   * With the source full: the index of a waiting job to refuse ('source-busy') in favour of
   * `incoming`, or -1 to refuse `incoming` itself.
   */
  makeRoom(waiting: readonly R[], incoming: R): number;
}

interface Job<R> {
  request: R;
  start(): void;
  skip(reason: NotRun): void;
}

export class FairWorkQueue<R extends WorkRequest = WorkRequest> {
  private runningCount = 0;
  private waitingCount = 0;
  /** Waiting jobs per source, in the order the sources are served next; no empty queues. */
  private readonly queues = new Map<string, Job<R>[]>();
  /** Running jobs per source, when they count towards the per-source limit. */
  private readonly runningPerSource = new Map<string, number>();

  constructor(
    private readonly limits: FairWorkQueueLimits,
    private readonly order?: SourceOrder<R>,
  ) {}

  /** Jobs running now. */
  get running(): number {
    return this.runningCount;
  }

  /** Jobs waiting for their turn. */
  get waiting(): number {
    return this.waitingCount;
  }

  /**
   * Runs `work` when the request's turn comes; resolves to its result, or to why it did not run.
   * A refusal is decided before this returns, so the queue's load read right after the call is
   * the load that refused it.
   */
  run<T>(request: R, work: () => Promise<T>): Promise<T | NotRun> {
    return new Promise<T | NotRun>((resolve, reject) => {
      const key = request.source ?? '';
      const job: Job<R> = {
        request,
        start: () => {
          this.runningCount++;
          this.countRunning(key, +1);
          work()
            .then(resolve, reject)
            .finally(() => {
              this.runningCount--;
              this.countRunning(key, -1);
              this.next();
            });
        },
        skip: resolve,
      };
      this.enqueue(key, job);
      this.next();
    });
  }

  private enqueue(key: string, job: Job<R>): void {
    const queue = this.queues.get(key) ?? [];
    const held = queue.length + (this.runningPerSource.get(key) ?? 0);
    if (held >= this.limits.maxPerSource) {
      const evict = queue.length > 0 && this.order ? this.order.makeRoom(requests(queue), job.request) : -1;
      if (evict < 0) return job.skip('source-busy');
      queue.splice(evict, 1)[0].skip('source-busy');
      this.waitingCount--;
    }
    if (this.waitingCount >= this.limits.maxWaiting) {
      if (queue.length === 0) this.queues.delete(key);
      return job.skip('busy');
    }
    queue.push(job);
    this.waitingCount++;
    if (!this.queues.has(key)) this.queues.set(key, queue);
  }

  private next(): void {
    while (this.runningCount < this.limits.concurrency && this.waitingCount > 0) {
      const job = this.take();
      const { stillWanted, signal } = job.request;
      if (signal?.aborted || (stillWanted && !stillWanted.call(job.request))) job.skip('abandoned');
      else job.start();
    }
  }

  /** The next job: the first source in the round, then to the back of it if it has more. */
  private take(): Job<R> {
    const [key, queue] = this.queues.entries().next().value!;
    const pick = this.order && queue.length > 1 ? this.order.pick(requests(queue)) : 0;
    const [job] = queue.splice(pick, 1);
    this.waitingCount--;
    this.queues.delete(key);
    if (queue.length > 0) this.queues.set(key, queue);
    return job;
  }

  private countRunning(key: string, delta: 1 | -1): void {
    if (!this.limits.perSourceCountsRunning) return;
    const left = (this.runningPerSource.get(key) ?? 0) + delta;
    if (left > 0) this.runningPerSource.set(key, left);
    else this.runningPerSource.delete(key);
  }
}

const requests = <R>(queue: readonly Job<R>[]): R[] => queue.map((j) => j.request);
