// List + watch with a cache, the one place watch events are interpreted: ADDED/MODIFIED update the
// cache, DELETED removes, BOOKMARK moves the resume point, a watch that ends is resumed from the
// last version seen, 410 Gone relists and reports what vanished meanwhile, and any other failure
// retries with backoff while the cache (and everything built on it) stays as it was.
import type { Logger } from 'pino';
import { createBackoff, sleep, type BackoffOptions } from './backoff.js';
import { isClusterError, objectKey, type ClusterClient, type KubeObject, type ObjectType } from './types.js';

export interface InformerHandlers {
  /** An object appeared or changed (also every object of a relist). */
  upsert?(object: KubeObject): void;
  /** An object is gone (also cached objects a relist no longer returns). */
  remove?(object: KubeObject): void;
  /** After every (re)list, when the cache holds the full state. */
  synced?(): void;
}

export interface InformerOptions extends InformerHandlers {
  client: ClusterClient;
  type: ObjectType;
  namespace?: string;
  labelSelector?: string;
  log?: Logger;
  backoff?: BackoffOptions;
}

export interface Informer {
  /** Resolves after the first list. */
  readonly ready: Promise<void>;
  get(namespace: string | undefined, name: string): KubeObject | undefined;
  list(): KubeObject[];
  stop(): void;
}

export function createInformer(options: InformerOptions): Informer {
  const { client, type } = options;
  const cache = new Map<string, KubeObject>();
  const abort = new AbortController();
  const backoff = createBackoff(options.backoff);
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let resourceVersion: string | undefined;

  async function relist(): Promise<void> {
    const result = await client.list(type, { namespace: options.namespace, labelSelector: options.labelSelector });
    const seen = new Set<string>();
    for (const object of result.items) {
      const key = objectKey(object);
      seen.add(key);
      cache.set(key, object);
      options.upsert?.(object);
    }
    for (const [key, object] of [...cache]) {
      if (seen.has(key)) continue;
      cache.delete(key);
      options.remove?.(object);
    }
    resourceVersion = result.resourceVersion;
    markReady();
    options.synced?.();
  }

  async function run(): Promise<void> {
    while (!abort.signal.aborted) {
      try {
        if (resourceVersion === undefined) await relist();
        const events = client.watch(type, {
          namespace: options.namespace,
          labelSelector: options.labelSelector,
          resourceVersion: resourceVersion!,
          signal: abort.signal,
        });
        for await (const event of events) {
          backoff.reset();
          switch (event.type) {
            case 'BOOKMARK':
              resourceVersion = event.resourceVersion;
              break;
            case 'ADDED':
            case 'MODIFIED':
              cache.set(objectKey(event.object), event.object);
              resourceVersion = event.object.metadata.resourceVersion;
              options.upsert?.(event.object);
              break;
            case 'DELETED':
              cache.delete(objectKey(event.object));
              resourceVersion = event.object.metadata.resourceVersion;
              options.remove?.(event.object);
              break;
          }
        }
        // The server ended the watch (timeout, restart): resume from the last version seen.
      } catch (error) {
        if (abort.signal.aborted) return;
        if (isClusterError(error, 'Gone')) {
          options.log?.info({ kind: type.kind, resourceVersion }, 'watch too old: relisting');
          resourceVersion = undefined;
          continue;
        }
        const delay = backoff.next();
        options.log?.warn({ kind: type.kind, err: error, delay }, 'watch failed: retrying');
        await sleep(delay, abort.signal);
      }
    }
  }

  void run();
  return {
    ready,
    get: (namespace, name) => cache.get(`${type.kind}/${namespace ?? ''}/${name}`),
    list: () => [...cache.values()],
    stop: () => abort.abort(),
  };
}
