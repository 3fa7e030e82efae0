// Holds the RP's feed like an informer holds a watch: relist, then watch from the bookmark; after
// a disconnect resume from the last revision; on 410 relist and tell which resources vanished;
// while the RP is unreachable, back off with jitter and change nothing on the cluster.
import type { Logger } from 'pino';
import { createBackoff, sleep, type BackoffOptions } from '../cluster/index.js';
import type { ArmResource } from '../../src/api/agent-protocol.js';
import { RpError, type RpClient } from './rp-client.js';

export interface FeedHandlers {
  upsert(id: string, etag: string, resource: ArmResource): void;
  /** The RP no longer has the resource. */
  remove(id: string): void;
  /** A relist completed: `ids` is everything the RP has for this cluster now. */
  relisted(ids: Set<string>): void;
}

export interface Feed {
  /** The revision the next watch resumes from (undefined before the first relist, or after 410). */
  readonly revision: number | undefined;
  stop(): void;
}

export function holdFeed(
  rp: RpClient,
  handlers: FeedHandlers,
  options: { log: Logger; backoff?: BackoffOptions },
): Feed {
  const abort = new AbortController();
  const backoff = createBackoff(options.backoff ?? { initialMs: 250, maxMs: 30_000 });
  let revision: number | undefined;

  async function run(): Promise<void> {
    while (!abort.signal.aborted) {
      const relisting = revision === undefined;
      const seen = new Set<string>();
      let listed = !relisting;
      try {
        await rp.streamFeed(
          revision,
          (event) => {
            backoff.reset();
            if (event.type === 'bookmark') {
              revision = event.revision;
              if (!listed) {
                listed = true;
                handlers.relisted(seen);
              }
              return;
            }
            // During a relist upserts carry each row's own revision, not a feed position.
            if (listed) revision = event.revision;
            if (event.type === 'upsert') {
              if (!listed) seen.add(event.id.toLowerCase());
              handlers.upsert(event.id, event.etag, event.resource);
            } else {
              handlers.remove(event.id);
            }
          },
          abort.signal,
        );
        // The RP ended the stream (restart, proxy timeout): resume from the last revision.
        if (!listed) revision = undefined;
      } catch (error) {
        if (abort.signal.aborted) return;
        if (error instanceof RpError && error.status === 410) {
          options.log.info({ revision }, 'feed position gone: relisting');
          revision = undefined;
          continue;
        }
        if (!listed) revision = undefined;
        const delay = backoff.next();
        options.log.warn({ err: error, delay, revision }, 'RP feed unavailable: retrying (cluster left as it is)');
        await sleep(delay, abort.signal);
      }
    }
  }

  void run();
  return {
    get revision() {
      return revision;
    },
    stop: () => abort.abort(),
  };
}
