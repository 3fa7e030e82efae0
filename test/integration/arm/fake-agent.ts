// Plays the cluster's agent over the real agent API (the real one lands in extension/agent): it
// watches the cluster's feed and reports every resource in flight as converged — or as the test
// decides — so RP async operations complete the way they will in production.
import { agentFeedPath, agentStatusPath, type FeedEvent } from '../../../src/api/agent-protocol.js';

export type Decision =
  { status: 'Succeeded' | 'Failed' | 'Deleted'; error?: { code: string; message: string } } | undefined;

export type Decide = (resource: Record<string, unknown>, state: string) => Decision;

/** The default: everything in flight converges (a delete is Deleted, anything else Succeeded). */
export const converge: Decide = (_resource, state) =>
  state === 'Deleting'
    ? { status: 'Deleted' }
    : ['Succeeded', 'Failed'].includes(state)
      ? undefined
      : { status: 'Succeeded' };

/** What a cluster answers when it cannot run a resource (tests fail creates of resources named `failing*` with it). */
export const REJECTED: Decision = {
  status: 'Failed',
  error: { code: 'BrokerRejected', message: 'memory profile too small' },
};

export interface FakeAgent {
  /** Resolves once the watch stream is open. */
  ready: Promise<void>;
  reported: { resourceId: string; status: string }[];
  stop(): Promise<void>;
}

export function startFakeAgent(options: {
  url: string;
  clusterId: string;
  token: () => Promise<string>;
  decide?: Decide;
}): FakeAgent {
  const abort = new AbortController();
  const reported: FakeAgent['reported'] = [];
  const decide = options.decide ?? converge;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const report = async (event: Extract<FeedEvent, { type: 'upsert' }>) => {
    const state = String(
      (event.resource.properties as { provisioningState?: string } | undefined)?.provisioningState ?? 'Succeeded',
    );
    const decision = decide(event.resource, state);
    if (!decision) return;
    const response = await fetch(`${options.url}${agentStatusPath(options.clusterId)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await options.token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reports: [{ resourceId: event.id, etag: event.etag, ...decision }] }),
      signal: abort.signal,
    });
    const outcome = (JSON.parse((await response.text()) || '{}') as { results?: { outcome: string }[] }).results?.[0]
      ?.outcome;
    if (outcome === 'pending') {
      // The RP holds a parent's Deleted until its children are gone; ask again, as the real agent does.
      setTimeout(() => void report(event).catch(() => undefined), 100).unref();
      return;
    }
    reported.push({ resourceId: event.id, status: decision.status });
  };

  const run = async () => {
    let since: number | undefined;
    while (!abort.signal.aborted) {
      try {
        const query = since === undefined ? '?watch=1' : `?since=${since}&watch=1`;
        const response = await fetch(`${options.url}${agentFeedPath(options.clusterId)}${query}`, {
          headers: { authorization: `Bearer ${await options.token()}` },
          signal: abort.signal,
        });
        if (response.status !== 200 || !response.body)
          throw new Error(`feed: ${response.status} ${await response.text()}`);
        markReady();
        let buffer = '';
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += Buffer.from(chunk).toString('utf8');
          let newline: number;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline);
            buffer = buffer.slice(newline + 1);
            if (!line) continue;
            const event = JSON.parse(line) as FeedEvent;
            since = event.revision;
            if (event.type === 'upsert') await report(event);
          }
        }
      } catch (error) {
        if (abort.signal.aborted) return;
        if (String(error).includes('410')) since = undefined;
        await new Promise((resolve) => setTimeout(resolve, 100)); // reconnect backoff
      }
    }
  };
  const loop = run();
  return {
    ready,
    reported,
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
