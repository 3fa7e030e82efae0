import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../common/errors.js';
import type { ChangeEvent, Store } from '../store/index.js';
import type { TokenVerifier } from './auth.js';
import {
  AGENT_FEED_ROUTE,
  AGENT_STATUS_ROUTE,
  statusReportsContract,
  type FeedEvent,
  type StatusReport,
} from '../api/agent-protocol.js';
import type { ClusterSync } from './cluster-sync.js';

export interface AgentApiOptions {
  store: Store;
  sync: ClusterSync;
  verify: TokenVerifier;
  /** Idle time after which the watch sends a bookmark (keeps proxies and the agent's resume point fresh). */
  bookmarkIntervalMs?: number;
}

const PAGE = 500;

/**
 * The agent-facing API: a list+watch feed of the resources bound to a cluster's custom locations,
 * and the status intake that completes async operations. Only the cluster's own identity (its
 * token's `xms_mirid`) may use it.
 */
export function registerAgentApi(app: FastifyInstance, options: AgentApiOptions): void {
  const { store, sync } = options;
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 15_000;

  const authorize = async (request: FastifyRequest<{ Params: { clusterId: string } }>): Promise<string> => {
    const caller = await options.verify(request.headers.authorization);
    const clusterId = request.params.clusterId;
    const identity = caller.claims.xms_mirid;
    if (typeof identity !== 'string' || identity.toLowerCase() !== clusterId.toLowerCase()) {
      throw apiError('AuthorizationFailed', { reason: `The caller is not the agent of cluster '${clusterId}'.` });
    }
    return clusterId;
  };

  app.get<{ Params: { clusterId: string }; Querystring: { since?: string; watch?: string } }>(
    AGENT_FEED_ROUTE,
    async (request, reply) => {
      const clusterId = await authorize(request);
      const scope = await sync.scopeOf(clusterId);
      const watch = request.query.watch === '1' || request.query.watch === 'true';
      const sinceText = request.query.since;
      if (sinceText !== undefined && !/^\d+$/.test(sinceText)) {
        throw apiError('BadRequest', { message: "'since' must be a revision number." }, { target: 'since' });
      }

      let since: number;
      const first: FeedEvent[] = [];
      if (sinceText === undefined) {
        // Relist: everything in scope, then a bookmark to watch from.
        since = await store.feed.currentRevision();
        let skipToken: string | undefined;
        do {
          const page = await store.resources.listByCustomLocations(scope, { top: PAGE, skipToken });
          for (const row of page.items)
            first.push({ type: 'upsert', revision: row.revision, id: row.id, etag: row.etag, resource: row.body });
          skipToken = page.nextSkipToken;
        } while (skipToken);
        first.push({ type: 'bookmark', revision: since });
      } else {
        since = Number(sinceText);
        const batch = await readBatch(store, scope, since); // throws Gone (410) before any byte is sent
        first.push(...batch.events);
        since = batch.next;
        if (!watch) first.push({ type: 'bookmark', revision: since });
      }

      const stream = new PassThrough();
      const write = (event: FeedEvent) => stream.write(`${JSON.stringify(event)}\n`);
      first.forEach(write);
      if (!watch) {
        stream.end();
        return sendNdjson(reply, stream);
      }
      const abort = new AbortController();
      request.raw.once('close', () => abort.abort());
      void streamChanges(store, scope, since, write, abort.signal, bookmarkIntervalMs).finally(() => stream.end());
      return sendNdjson(reply, stream);
    },
  );

  // Authorised in onRequest, before the body is read: only the cluster's agent may send one.
  const reporters = new WeakMap<FastifyRequest, string>();
  const admitReporter = async (request: FastifyRequest<{ Params: { clusterId: string } }>) => {
    reporters.set(request, await authorize(request));
  };
  app.post<{ Params: { clusterId: string }; Body: unknown }>(
    AGENT_STATUS_ROUTE,
    { onRequest: admitReporter },
    async (request, reply) => {
      const clusterId = reporters.get(request)!;
      const reports = parseReports(request.body); // every report checked before any is applied
      const outcomes = await sync.reportBatch(clusterId, reports);
      return reply
        .code(200)
        .send({ results: reports.map((r, i) => ({ resourceId: r.resourceId, outcome: outcomes[i] })) });
    },
  );
}

function sendNdjson(reply: FastifyReply, stream: PassThrough) {
  return reply
    .code(200)
    .header('content-type', 'application/x-ndjson; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(stream);
}

async function readBatch(store: Store, scope: string[], since: number): Promise<{ events: FeedEvent[]; next: number }> {
  const current = await store.feed.currentRevision();
  const changes = await store.feed
    .changesSince(scope, since, PAGE)
    .catch((error: { code?: string; oldestRevision?: number }) => {
      if (error.code === 'Gone') throw apiError('Gone', { since, oldest: error.oldestRevision ?? 0 }, { cause: error });
      throw error;
    });
  const events = changes.map(toFeedEvent);
  // With a short page the feed is complete up to `current`, even if nothing of ours changed.
  const next = changes.length < PAGE ? Math.max(current, changes.at(-1)?.revision ?? since) : changes.at(-1)!.revision;
  return { events, next };
}

async function streamChanges(
  store: Store,
  scope: string[],
  since: number,
  write: (event: FeedEvent) => void,
  signal: AbortSignal,
  bookmarkIntervalMs: number,
): Promise<void> {
  let lastWrite = Date.now();
  while (!signal.aborted) {
    try {
      const { events, next } = await readBatch(store, scope, since);
      events.forEach(write);
      if (events.length) lastWrite = Date.now();
      since = next;
      if (events.length === PAGE) continue;
      const timeout = AbortSignal.timeout(Math.max(1, bookmarkIntervalMs - (Date.now() - lastWrite)));
      const woke = await store.feed.waitForRevision(since, AbortSignal.any([signal, timeout]));
      if (woke === undefined && !signal.aborted) {
        write({ type: 'bookmark', revision: since });
        lastWrite = Date.now();
      }
    } catch {
      return; // Gone mid-stream or the store closed: end the stream, the agent reconnects
    }
  }
}

function toFeedEvent(change: ChangeEvent): FeedEvent {
  if (change.kind === 'delete') return { type: 'delete', revision: change.revision, id: change.id };
  return { type: 'upsert', revision: change.revision, id: change.id, etag: change.etag!, resource: change.body! };
}

/** `{ reports: [...] }`, or one report alone; checked against the agent protocol's schema. */
function parseReports(body: unknown): StatusReport[] {
  const batch = body && typeof body === 'object' && 'reports' in body ? body : { reports: [body] };
  const { value, violations } = statusReportsContract.check(batch);
  const first = violations[0];
  if (first)
    throw apiError('BadRequest', { message: `Invalid status report: ${first.message}` }, { target: first.target });
  return value.reports;
}
