// Waiting on the API server by watching it: list, then watch from the list's version until a
// predicate over the current set holds. No sleeps; a deadline only turns a hang into a message.
import { objectKey, type ClusterClient, type KubeObject, type ObjectType } from '../../../extension/cluster/index.js';

export async function awaitObjects(
  client: ClusterClient,
  type: ObjectType,
  namespace: string,
  done: (objects: KubeObject[]) => boolean,
  what: string,
  deadlineMs = 30_000,
): Promise<KubeObject[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), deadlineMs);
  try {
    for (;;) {
      const start = await client.list(type, { namespace });
      const current = new Map(start.items.map((o) => [objectKey(o), o]));
      if (done([...current.values()])) return [...current.values()];
      for await (const event of client.watch(type, {
        namespace,
        resourceVersion: start.resourceVersion,
        signal: abort.signal,
      })) {
        if (event.type === 'BOOKMARK') continue;
        if (event.type === 'DELETED') current.delete(objectKey(event.object));
        else current.set(objectKey(event.object), event.object);
        if (done([...current.values()])) return [...current.values()];
      }
      if (abort.signal.aborted) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
