// Kubernetes-shaped objects and the one client interface the agent and the operator use, whether the
// cluster is the embedded local one (local-cluster.ts) or a real API server (kubernetes.ts).

/** One field manager's claim on an object, a light form of Kubernetes' managedFields (FieldsV1). */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  /** `status` for the status subresource. */
  subresource?: string;
  time: string;
  /** Leaf field paths owned, each a JSON array of segments: `["spec","port"]`, `["metadata","finalizers","=x"]`. */
  fields: string[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: ManagedFieldsEntry[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  /** ConfigMap / Secret payloads and anything else top-level. */
  [key: string]: unknown;
}

/** Which collection an object lives in. `plural` defaults to lower-cased kind + `s`. */
export interface ObjectType {
  apiVersion: string;
  kind: string;
  plural?: string;
  namespaced?: boolean;
}

export type WatchEvent =
  { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject } | { type: 'BOOKMARK'; resourceVersion: string };

export interface ListResult {
  items: KubeObject[];
  /** The collection's resourceVersion: watch from here to see every later change. */
  resourceVersion: string;
}

export interface ListOptions {
  namespace?: string;
  /** Equality-based selector: `a=b,c=d`, `a` (exists), `!a` (absent). */
  labelSelector?: string;
}

export interface WatchOptions extends ListOptions {
  resourceVersion: string;
  signal: AbortSignal;
}

export interface ApplyOptions {
  fieldManager: string;
  /** Take ownership of fields another manager holds instead of failing with a conflict. */
  force?: boolean;
}

export interface ClusterClient {
  get(type: ObjectType, namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
  list(type: ObjectType, options?: ListOptions): Promise<ListResult>;
  /**
   * Streams changes after `resourceVersion` until the signal aborts or the server ends the watch
   * (the iterator then just finishes: watch again from the last version seen). Throws
   * `ClusterError` with code `Gone` when that version is too old: relist.
   */
  watch(type: ObjectType, options: WatchOptions): AsyncIterable<WatchEvent>;
  /** Server-side apply: the object holds exactly the fields this manager wants to own. */
  apply(object: KubeObject, options: ApplyOptions): Promise<KubeObject>;
  /** Server-side apply of `status` through the status subresource (spec is untouched). */
  patchStatus(
    type: ObjectType,
    namespace: string | undefined,
    name: string,
    status: Record<string, unknown>,
    options: ApplyOptions,
  ): Promise<KubeObject>;
  /** Deletes, or marks for deletion while finalizers remain. Missing objects are not an error. */
  delete(type: ObjectType, namespace: string | undefined, name: string): Promise<void>;
  /** Removes one finalizer (the object goes once none remain and it is being deleted). */
  removeFinalizer(type: ObjectType, namespace: string | undefined, name: string, finalizer: string): Promise<void>;
}

/** `Forbidden`: the API server refused the caller (401/403: RBAC, credentials). */
export type ClusterErrorCode = 'NotFound' | 'Conflict' | 'Gone' | 'Invalid' | 'Forbidden' | 'Unavailable';

/**
 * One offending field of a refused write, as the API server's Status `details.causes` lists it:
 * `field` like `spec.listeners[0].port`, `reason` like `FieldValueNotSupported`, and a message
 * such as `Unsupported value: "gigantic": supported values: "clusterIp", "loadBalancer"`.
 */
export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

/** A failure with a Kubernetes-like reason; `status` is the HTTP status the API server would send. */
export class ClusterError extends Error {
  /** For `Invalid`: each offending field (empty when the server named none). */
  readonly causes: readonly StatusCause[];

  constructor(
    readonly code: ClusterErrorCode,
    message: string,
    readonly status: number,
    options: { cause?: unknown; causes?: readonly StatusCause[] } = {},
  ) {
    super(message, options);
    this.name = 'ClusterError';
    this.causes = options.causes ?? [];
  }
}

export function isClusterError(error: unknown, code?: ClusterErrorCode): error is ClusterError {
  return error instanceof ClusterError && (code === undefined || error.code === code);
}

export function pluralOf(type: ObjectType): string {
  return type.plural ?? `${type.kind.toLowerCase()}s`;
}

export function typeOf(object: Pick<KubeObject, 'apiVersion' | 'kind'>): ObjectType {
  return { apiVersion: object.apiVersion, kind: object.kind };
}

/** `kind/namespace/name`, the identity used by queues and caches. */
export function objectKey(object: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/** Parses and evaluates an equality-based label selector. */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector
    .split(',')
    .map((term) => term.trim())
    .filter(Boolean)
    .every((term) => {
      if (term.startsWith('!')) return labels?.[term.slice(1)] === undefined;
      const neq = term.split('!=');
      if (neq.length === 2) return labels?.[neq[0]!.trim()] !== neq[1]!.trim();
      const eq = term.split(/==?/);
      if (eq.length === 2) return labels?.[eq[0]!.trim()] === eq[1]!.trim();
      return labels?.[term] !== undefined;
    });
}
