// Sends status reports to the RP in batches; keeps the latest report per resource until the RP has
// taken it, retrying with backoff while the RP is away, so nothing the cluster did is lost.
import type { Logger } from 'pino';
import { createBackoff, sleep, type BackoffOptions } from '../cluster/index.js';
import type { StatusReport } from '../../src/api/agent-protocol.js';
import type { RpClient } from './rp-client.js';

export interface StatusReporter {
  report(report: StatusReport): void;
  /** Resolves when nothing is waiting to be sent. */
  flushed(): Promise<void>;
  stop(): void;
}

const PENDING_RETRY_MS = 250;

export function createStatusReporter(rp: RpClient, options: { log: Logger; backoff?: BackoffOptions }): StatusReporter {
  const pending = new Map<string, StatusReport>();
  const sent = new Map<string, string>();
  const abort = new AbortController();
  const backoff = createBackoff(options.backoff ?? { initialMs: 250, maxMs: 30_000 });
  let running: Promise<void> | undefined;
  let waiters: (() => void)[] = [];

  // The RP holds a parent's Deleted report until its children are gone: ask again after a pause.
  const later = new Map<string, NodeJS.Timeout>();
  function retryLater(key: string, report: StatusReport): void {
    if (later.has(key)) return;
    later.set(
      key,
      setTimeout(() => {
        later.delete(key);
        if (!pending.has(key)) pending.set(key, report);
        running ??= Promise.resolve().then(drain);
      }, PENDING_RETRY_MS),
    );
  }

  const fingerprint = (r: StatusReport) => JSON.stringify([r.etag, r.status, r.error?.code, r.error?.message]);

  async function drain(): Promise<void> {
    while (pending.size && !abort.signal.aborted) {
      const batch = [...pending.values()];
      pending.clear();
      try {
        const pendingIds = new Set(await rp.postStatus(batch));
        backoff.reset();
        for (const r of batch) {
          const key = r.resourceId.toLowerCase();
          if (pendingIds.has(key)) retryLater(key, r);
          else sent.set(key, fingerprint(r));
        }
        options.log.info({ reports: batch.map((r) => ({ id: r.resourceId, status: r.status })) }, 'reported status');
      } catch (error) {
        for (const r of batch) if (!pending.has(r.resourceId.toLowerCase())) pending.set(r.resourceId.toLowerCase(), r);
        const delay = backoff.next();
        options.log.warn({ err: error, delay }, 'status report failed: retrying');
        await sleep(delay, abort.signal);
      }
    }
    running = undefined;
    const done = waiters;
    waiters = [];
    done.forEach((resolve) => resolve());
  }

  return {
    report(report) {
      const key = report.resourceId.toLowerCase();
      if (sent.get(key) === fingerprint(report)) return;
      pending.set(key, report);
      running ??= Promise.resolve().then(drain);
    },
    flushed() {
      if (!running) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    stop() {
      abort.abort();
      for (const timer of later.values()) clearTimeout(timer);
      later.clear();
    },
  };
}
