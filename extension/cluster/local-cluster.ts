// The embedded cluster API of `iotmq dev`: Kubernetes-shaped objects with Kubernetes' semantics
// where the agent and the operator rely on them — one global resourceVersion, generation bumped by
// spec changes only, list + watch from a version (410 Gone once it falls out of the history),
// server-side apply with field managers, finalizers holding deletion, the status subresource and
// owner-reference garbage collection, and the CRDs' structural schemas (unknown fields pruned,
// defaults filled in, then validated with kube-apiserver's 422 causes: schema-validation.ts).
// Persisted to the data dir so a restart keeps the cluster.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { createEventQueue, type EventQueue } from './event-queue.js';
import { loadChartCrds } from './chart-crds.js';
import { createLocalPersistence } from './local-persistence.js';
import { createSchemaRegistry } from './structural-schema.js';
import { invalidObject } from './schema-validation.js';
import { appliedFields, mergeApply, specOf, statusFields } from './managed-fields.js';
import {
  ClusterError,
  matchesSelector,
  type ApplyOptions,
  type ClusterClient,
  type KubeObject,
  type ListOptions,
  type ListResult,
  type ObjectType,
  type WatchEvent,
  type WatchOptions,
} from './types.js';

export interface LocalClusterOptions {
  /** Directory for cluster.db; in memory when absent. */
  dataDir?: string;
  /** Changes kept for watchers to resume from (Kubernetes keeps a window, then answers 410). */
  historySize?: number;
  /** An idle watch gets a BOOKMARK this often, so its resume point stays current. */
  bookmarkIntervalMs?: number;
  /** CRDs whose schemas prune and default custom resources (default: the chart's, extension/chart/crds). */
  customResourceDefinitions?: readonly KubeObject[];
}

export interface LocalCluster extends ClusterClient {
  /** The current resourceVersion of the whole store. */
  readonly resourceVersion: string;
  close(): void;
}

interface Change {
  revision: number;
  typeKey: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  previous?: KubeObject;
}

interface Watcher {
  typeKey: string;
  options: ListOptions;
  queue: EventQueue<WatchEvent>;
}

const typeKeyOf = (type: Pick<ObjectType, 'apiVersion' | 'kind'>) => `${type.apiVersion}|${type.kind}`;
const keyOf = (typeKey: string, namespace: string | undefined, name: string) => `${typeKey}|${namespace ?? ''}|${name}`;

export function createLocalCluster(options: LocalClusterOptions = {}): LocalCluster {
  const historySize = options.historySize ?? 10_000;
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 10_000;
  const schemas = createSchemaRegistry(options.customResourceDefinitions ?? loadChartCrds());
  const persistence = createLocalPersistence(options.dataDir);
  const loaded = persistence.load();
  const objects = new Map(loaded.objects.map(({ key, object }) => [key, object]));
  let revision = loaded.resourceVersion;
  // Everything up to here is outside the history: a watch from an older version gets 410.
  let compactedThrough = revision;
  const history: Change[] = [];
  const watchers = new Set<Watcher>();

  const inScope = (object: KubeObject, options: ListOptions) =>
    (options.namespace === undefined || object.metadata.namespace === options.namespace) &&
    matchesSelector(object.metadata.labels, options.labelSelector);

  /** What one watcher sees of a change: objects entering or leaving its selector are ADDED/DELETED. */
  function viewOf(change: Change, watcher: Pick<Watcher, 'typeKey' | 'options'>): WatchEvent | undefined {
    if (change.typeKey !== watcher.typeKey) return undefined;
    const now = change.type !== 'DELETED' && inScope(change.object, watcher.options);
    const before =
      change.type === 'DELETED'
        ? inScope(change.object, watcher.options)
        : change.previous !== undefined && inScope(change.previous, watcher.options);
    if (change.type === 'DELETED')
      return before ? { type: 'DELETED', object: structuredClone(change.object) } : undefined;
    if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: structuredClone(change.object) };
    return before ? { type: 'DELETED', object: structuredClone(change.object) } : undefined;
  }

  function record(typeKey: string, key: string, type: Change['type'], object: KubeObject, previous?: KubeObject): void {
    revision += 1;
    if (type !== 'DELETED') {
      object.metadata.resourceVersion = String(revision);
      objects.set(key, object);
      persistence.save(key, object, revision);
    } else {
      object = { ...object, metadata: { ...object.metadata, resourceVersion: String(revision) } };
      objects.delete(key);
      persistence.save(key, undefined, revision);
    }
    const change: Change = { revision, typeKey, type, object, previous };
    history.push(change);
    while (history.length > historySize) compactedThrough = history.shift()!.revision;
    for (const watcher of watchers) {
      const event = viewOf(change, watcher);
      if (event) watcher.queue.push(event);
    }
  }

  /** Stores a new state of an existing object, deleting it if it is being deleted and no finalizer remains. */
  function commit(typeKey: string, key: string, previous: KubeObject, next: KubeObject): KubeObject {
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      record(typeKey, key, 'DELETED', next, previous);
      collectGarbage(previous.metadata.uid);
      return next;
    }
    if (isDeepStrictEqual(withoutVolatile(previous), withoutVolatile(next))) return previous; // no-op writes change nothing
    record(typeKey, key, 'MODIFIED', next, previous);
    return next;
  }

  /** Background cascading deletion: dependents of a deleted owner go too. */
  function collectGarbage(uid: string | undefined): void {
    if (!uid) return;
    for (const [key, object] of [...objects]) {
      if (object.metadata.ownerReferences?.some((ref) => ref.uid === uid)) {
        deleteKey(key.split('|').slice(0, 2).join('|'), key);
      }
    }
  }

  function deleteKey(typeKey: string, key: string): void {
    const existing = objects.get(key);
    if (!existing) return;
    if (existing.metadata.finalizers?.length) {
      if (existing.metadata.deletionTimestamp) return;
      const next = structuredClone(existing);
      next.metadata.deletionTimestamp = new Date().toISOString();
      commit(typeKey, key, existing, next);
      return;
    }
    record(typeKey, key, 'DELETED', existing, existing);
    collectGarbage(existing.metadata.uid);
  }

  /** Like server-side apply on Kubernetes: what the schema cannot type fails the whole apply. */
  function refuseUntyped(object: KubeObject): void {
    const causes = schemas.applyTypingCauses(object);
    if (causes.length) throw invalidObject(object, causes);
  }

  const cluster: LocalCluster = {
    get resourceVersion() {
      return String(revision);
    },

    async get(type, namespace, name) {
      const object = objects.get(keyOf(typeKeyOf(type), namespace, name));
      return object && structuredClone(object);
    },

    async list(type, options = {}): Promise<ListResult> {
      const typeKey = typeKeyOf(type);
      const items = [...objects.entries()]
        .filter(([key, object]) => key.startsWith(`${typeKey}|`) && inScope(object, options))
        .map(([, object]) => structuredClone(object))
        .sort((a, b) =>
          `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
        );
      return { items, resourceVersion: String(revision) };
    },

    watch(type, options: WatchOptions) {
      const since = Number(options.resourceVersion);
      const queue = createEventQueue<WatchEvent>(options.signal);
      if (!Number.isInteger(since) || since < compactedThrough) {
        queue.end(
          new ClusterError('Gone', `too old resource version: ${options.resourceVersion} (${compactedThrough})`, 410),
        );
        return queue;
      }
      const watcher: Watcher = {
        typeKey: typeKeyOf(type),
        options: { namespace: options.namespace, labelSelector: options.labelSelector },
        queue,
      };
      for (const change of history) {
        if (change.revision <= since) continue;
        const event = viewOf(change, watcher);
        if (event) queue.push(event);
      }
      watchers.add(watcher);
      const timer = setInterval(
        () => queue.push({ type: 'BOOKMARK', resourceVersion: String(revision) }),
        bookmarkIntervalMs,
      );
      timer.unref();
      options.signal.addEventListener(
        'abort',
        () => {
          clearInterval(timer);
          watchers.delete(watcher);
        },
        { once: true },
      );
      return queue;
    },

    async apply(object, applyOptions: ApplyOptions) {
      if (!object.metadata?.name) throw new ClusterError('Invalid', 'metadata.name is required', 422);
      const { status: _ignored, ...applied } = object;
      refuseUntyped(applied as KubeObject);
      const typeKey = typeKeyOf(object);
      const key = keyOf(typeKey, object.metadata.namespace, object.metadata.name);
      const existing = objects.get(key);
      const now = new Date().toISOString();
      const base: KubeObject = existing ?? {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: {
          name: object.metadata.name,
          ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
          uid: randomUUID(),
          creationTimestamp: now,
          generation: 1,
        },
      };
      // Kubernetes prunes and defaults after merging: a defaulted field is owned by no manager.
      const next = schemas.normalise(
        mergeApply(base, {
          existing,
          fields: appliedFields(object),
          manager: applyOptions.fieldManager,
          force: applyOptions.force ?? false,
          now,
        }),
      );
      // Then the schema's checks, as the API server validates after defaulting (422 Invalid).
      const invalid = schemas.validate(next, existing);
      if (invalid.length) throw invalidObject(next, invalid);
      if (!existing) {
        if (object.metadata.deletionTimestamp)
          throw new ClusterError('Invalid', 'cannot create an object that is being deleted', 422);
        record(typeKey, key, 'ADDED', next);
        return structuredClone(next);
      }
      if (existing.metadata.deletionTimestamp) {
        const added = (next.metadata.finalizers ?? []).filter((f) => !existing.metadata.finalizers?.includes(f));
        if (added.length)
          throw new ClusterError(
            'Invalid',
            `cannot add finalizers to an object being deleted: ${added.join(', ')}`,
            422,
          );
      }
      if (!isDeepStrictEqual(specOf(existing), specOf(next)))
        next.metadata.generation = (existing.metadata.generation ?? 1) + 1;
      return structuredClone(commit(typeKey, key, existing, next));
    },

    async patchStatus(type, namespace, name, status, applyOptions) {
      const typeKey = typeKeyOf(type);
      const key = keyOf(typeKey, namespace, name);
      const existing = objects.get(key);
      if (!existing) throw new ClusterError('NotFound', `${type.kind} ${namespace}/${name} not found`, 404);
      refuseUntyped({ apiVersion: type.apiVersion, kind: type.kind, metadata: { name }, status });
      const next = schemas.normalise(
        mergeApply(existing, {
          existing,
          fields: statusFields(status),
          manager: applyOptions.fieldManager,
          subresource: 'status',
          force: applyOptions.force ?? true,
          now: new Date().toISOString(),
        }),
      );
      // The status subresource is checked against the status schema only: its writer cannot change the spec.
      const invalid = schemas.validateStatus(next, existing);
      if (invalid.length) throw invalidObject(next, invalid);
      return structuredClone(commit(typeKey, key, existing, next));
    },

    async delete(type, namespace, name) {
      const typeKey = typeKeyOf(type);
      deleteKey(typeKey, keyOf(typeKey, namespace, name));
    },

    async removeFinalizer(type, namespace, name, finalizer) {
      const typeKey = typeKeyOf(type);
      const key = keyOf(typeKey, namespace, name);
      const existing = objects.get(key);
      if (!existing?.metadata.finalizers?.includes(finalizer)) return;
      const next = structuredClone(existing);
      next.metadata.finalizers = next.metadata.finalizers!.filter((f) => f !== finalizer);
      if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
      // The finalizer leaves every manager's field set too, so no later apply resurrects it by accident.
      next.metadata.managedFields = next.metadata.managedFields?.map((entry) => ({
        ...entry,
        fields: entry.fields.filter((f) => f !== JSON.stringify(['metadata', 'finalizers', `=${finalizer}`])),
      }));
      commit(typeKey, key, existing, next);
    },

    close() {
      for (const watcher of watchers) watcher.queue.end();
      watchers.clear();
      persistence.close();
    },
  };
  return cluster;
}

/** Fields that alone do not make a write a change. */
function withoutVolatile(object: KubeObject): unknown {
  return {
    ...object,
    metadata: {
      ...object.metadata,
      resourceVersion: undefined,
      managedFields: object.metadata.managedFields?.map((entry) => ({ ...entry, time: undefined })),
    },
  };
}
