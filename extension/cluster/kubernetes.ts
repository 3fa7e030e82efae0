// The ClusterClient on a real Kubernetes API server: server-side apply with a field manager,
// list + watch with bookmarks (410 Gone surfaces as ClusterError 'Gone' so the informer relists),
// the status subresource, finalizer removal by JSON patch with a precondition, delete. The same
// shared suite (test/integration/operator/cluster-client-suite.ts) runs against this and the
// local cluster; Kubernetes is the reference for what that suite expects.
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { createEventQueue } from './event-queue.js';
import { createKubeTransport, statusError, type KubeStatus, type KubeTransport } from './kube-transport.js';
import { fromKubeManagedFields, type KubeManagedFieldsEntry } from './kube-managed-fields.js';
import {
  ClusterError,
  isClusterError,
  pluralOf,
  type ClusterClient,
  type KubeObject,
  type ListOptions,
  type ObjectType,
  type WatchEvent,
} from './types.js';

export interface KubernetesClusterOptions {
  /** Path of a kubeconfig; absent: in-cluster config when running in a pod, else the default kubeconfig. */
  kubeconfigPath?: string;
  /** An already loaded config (wins over kubeconfigPath). */
  config?: KubeConfig;
  /** Server-side watch timeout; the informer resumes from its last version when a watch ends. */
  watchTimeoutSeconds?: number;
}

export interface KubernetesCluster extends ClusterClient {
  readonly config: KubeConfig;
  readonly transport: KubeTransport;
}

/** Loads the kubeconfig the way kubectl would, or the pod's service account in a cluster. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
  else config.loadFromDefault();
  return config;
}

/** `/api/v1` or `/apis/<group>/<version>`, then the namespace if any, then the plural. */
export function collectionPath(type: ObjectType, namespace: string | undefined): string {
  const root = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  return `${root}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${pluralOf(type)}`;
}

export function objectPath(type: ObjectType, namespace: string | undefined, name: string): string {
  return `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`;
}

/** What an apply sends: the fields the manager owns. Server-owned metadata would be a precondition or an error. */
function applyBody(object: KubeObject): KubeObject {
  const { name, namespace, labels, annotations, finalizers, ownerReferences } = object.metadata;
  const { status: _status, ...rest } = object;
  return {
    ...rest,
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
      ...(finalizers ? { finalizers } : {}),
      ...(ownerReferences ? { ownerReferences } : {}),
    },
  };
}

/** API server objects in our shape: list items get their apiVersion/kind, managedFields become leaf paths. */
function normalise(object: KubeObject, type?: ObjectType): KubeObject {
  const result = type
    ? { ...object, apiVersion: object.apiVersion ?? type.apiVersion, kind: object.kind ?? type.kind }
    : object;
  const managed = result.metadata?.managedFields as unknown as KubeManagedFieldsEntry[] | undefined;
  if (managed) result.metadata = { ...result.metadata, managedFields: fromKubeManagedFields(managed) };
  return result;
}

const APPLY_PATCH = 'application/apply-patch+yaml'; // JSON is YAML: the body is sent as JSON
const JSON_PATCH = 'application/json-patch+json';

export function createKubernetesCluster(options: KubernetesClusterOptions = {}): KubernetesCluster {
  const config = options.config ?? loadKubeConfig(options.kubeconfigPath);
  const transport = createKubeTransport(config);
  const watcher = new Watch(config);
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
  const selectorQuery = (options: ListOptions) => ({ labelSelector: options.labelSelector || undefined });

  const client: KubernetesCluster = {
    config,
    transport,

    async get(type, namespace, name) {
      try {
        return normalise(
          await transport.request<KubeObject>({ method: 'GET', path: objectPath(type, namespace, name) }),
          type,
        );
      } catch (error) {
        if (isClusterError(error, 'NotFound')) return undefined;
        throw error;
      }
    },

    async list(type, listOptions = {}) {
      const result = await transport.request<{ items: KubeObject[]; metadata: { resourceVersion: string } }>({
        method: 'GET',
        path: collectionPath(type, listOptions.namespace),
        query: selectorQuery(listOptions),
      });
      return {
        items: result.items.map((item) => normalise(item, type)),
        resourceVersion: result.metadata.resourceVersion,
      };
    },

    watch(type, watchOptions) {
      const queue = createEventQueue<WatchEvent>(watchOptions.signal);
      const query = {
        ...selectorQuery(watchOptions),
        resourceVersion: watchOptions.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(watchTimeoutSeconds),
      };
      const onEvent = (phase: string, object: unknown) => {
        if (phase === 'BOOKMARK') {
          queue.push({ type: 'BOOKMARK', resourceVersion: (object as KubeObject).metadata.resourceVersion! });
        } else if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') {
          queue.push({ type: phase, object: normalise(object as KubeObject, type) });
        } else if (phase === 'ERROR') {
          // The API server reports an expired resourceVersion as an ERROR event carrying a 410 Status.
          const status = object as KubeStatus;
          queue.end(statusError(status.code ?? 500, status, `watch ${collectionPath(type, watchOptions.namespace)}`));
        }
      };
      const onDone = (error: unknown) => {
        if (!error || watchOptions.signal.aborted) return queue.end();
        const code = (error as { statusCode?: number }).statusCode;
        queue.end(
          code
            ? statusError(code, (error as Error).message, 'watch')
            : new ClusterError('Unavailable', `watch failed: ${(error as Error).message}`, 503, { cause: error }),
        );
      };
      watcher
        .watch(collectionPath(type, watchOptions.namespace), query, onEvent, onDone)
        .then((controller) => {
          // The signal may have fired while the request was being made.
          if (watchOptions.signal.aborted) controller.abort();
          else watchOptions.signal.addEventListener('abort', () => controller.abort(), { once: true });
        })
        .catch(onDone);
      return queue;
    },

    async apply(object, applyOptions) {
      if (!object.metadata?.name) throw new ClusterError('Invalid', 'metadata.name is required', 422);
      const type: ObjectType = { apiVersion: object.apiVersion, kind: object.kind };
      const applied = await transport.request<KubeObject>({
        method: 'PATCH',
        path: objectPath(type, object.metadata.namespace, object.metadata.name),
        query: { fieldManager: applyOptions.fieldManager, force: applyOptions.force ? 'true' : undefined },
        body: applyBody(object),
        contentType: APPLY_PATCH,
      });
      return normalise(applied);
    },

    async patchStatus(type, namespace, name, status, applyOptions) {
      const applied = await transport.request<KubeObject>({
        method: 'PATCH',
        path: `${objectPath(type, namespace, name)}/status`,
        query: { fieldManager: applyOptions.fieldManager, force: (applyOptions.force ?? true) ? 'true' : undefined },
        body: {
          apiVersion: type.apiVersion,
          kind: type.kind,
          metadata: { name, ...(namespace ? { namespace } : {}) },
          status,
        },
        contentType: APPLY_PATCH,
      });
      return normalise(applied, type);
    },

    async delete(type, namespace, name) {
      try {
        await transport.request({ method: 'DELETE', path: objectPath(type, namespace, name) });
      } catch (error) {
        if (!isClusterError(error, 'NotFound')) throw error;
      }
    },

    async removeFinalizer(type, namespace, name, finalizer) {
      // A JSON patch removing the entry at its index, guarded by a `test` of that same entry: a
      // concurrent change to the list fails the test (422) and we read again instead of removing
      // someone else's finalizer.
      for (let attempt = 0; ; attempt++) {
        const current = await client.get(type, namespace, name);
        const index = current?.metadata.finalizers?.indexOf(finalizer) ?? -1;
        if (!current || index < 0) return;
        try {
          await transport.request({
            method: 'PATCH',
            path: objectPath(type, namespace, name),
            body: [
              { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
              { op: 'remove', path: `/metadata/finalizers/${index}` },
            ],
            contentType: JSON_PATCH,
          });
          return;
        } catch (error) {
          if (isClusterError(error, 'NotFound')) return;
          if (!(isClusterError(error, 'Invalid') || isClusterError(error, 'Conflict')) || attempt >= 5) throw error;
        }
      }
    },
  };
  return client;
}
