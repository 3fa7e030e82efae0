/**
 * The Store: everything the resource provider persists. One interface, two backends
 * (SQLite embedded, PostgreSQL for several RP replicas), one shared test suite.
 *
 * Conventions:
 * - ARM ids are case-insensitive: rows are keyed by the lower-cased id, the caller's casing is kept
 *   in `id` and in the body. Every id argument may be given in any casing.
 * - Custom location ids, subscription ids and resource groups are compared lower-cased.
 * - Times are ISO-8601 UTC strings (`Date.prototype.toISOString()`), so they compare as text.
 * - Every write is one transaction; `transaction(fn)` groups several writes (e.g. a resource and the
 *   async operation that tracks it) so that a crash leaves all of them or none.
 */

/** A stored ARM resource. */
export interface ResourceRow {
  /** The ARM id in the casing of the last writer. */
  id: string;
  /** The lower-cased id: the key. */
  key: string;
  /** e.g. `Microsoft.IoTOperationsMQ/mq/broker`, as given by the writer. */
  type: string;
  /** Lower-cased. */
  subscriptionId: string;
  /** Lower-cased; null for subscription-level resources. */
  resourceGroup: string | null;
  /** Lower-cased id of the parent resource; null for top-level resources. */
  parentKey: string | null;
  /** Lower-cased custom location id (from `extendedLocation.name`), which routes the change feed. */
  customLocation: string | null;
  /** The whole ARM resource as returned by GET. */
  body: Record<string, unknown>;
  /** New random value on each write. Opaque, unquoted: the RP formats the HTTP header. */
  etag: string;
  /** Revision of the last write to this row (from the global revision sequence). */
  revision: number;
}

/** A resource as GET answers it: the stored JSON text, never parsed and serialised again. */
export interface ResourceJson {
  /** The body exactly as stored: the text of `JSON.stringify(body)` at write time. */
  json: string;
  etag: string;
}

/** What a writer gives to `resources.put`. Everything else is derived. */
export interface ResourceInput {
  id: string;
  type: string;
  body: Record<string, unknown>;
  /** Defaults to `body.extendedLocation.name`, else the parent's custom location. */
  customLocation?: string | null;
  /** Defaults to the id without its last `type/name` pair, or null for a top-level resource. */
  parentId?: string | null;
  /** Defaults to a new random UUID. Pass one to embed the same value in the body. */
  etag?: string;
}

export type OperationStatus = 'Accepted' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';
export type OperationKind = 'put' | 'delete';
export const TERMINAL_STATUSES: readonly OperationStatus[] = ['Succeeded', 'Failed', 'Canceled'];

/** An ARM async operation (what Azure-AsyncOperation polls). */
export interface OperationRow {
  /** Operation id (a GUID). */
  id: string;
  /** Resource id in the caller's casing. */
  resourceId: string;
  status: OperationStatus;
  kind: OperationKind;
  /** The resource ETag this operation waits for: a status report for another ETag is stale. */
  expectedEtag: string;
  startTime: string;
  endTime?: string;
  /** ARM error object `{ code, message, ... }` for Failed/Canceled. */
  error?: unknown;
  /** After this time a non-terminal operation is failed (cluster not connected). */
  deadline: string;
}

export interface OperationInput {
  id: string;
  resourceId: string;
  kind: OperationKind;
  expectedEtag: string;
  deadline: string;
  /** Default 'Accepted'. */
  status?: OperationStatus;
  /** Default now. */
  startTime?: string;
}

/** The operation created together with a resource by `resources.put(…, { operation })`. */
export type PutOperation = Omit<OperationInput, 'resourceId' | 'expectedEtag'> & {
  /** Default: the resource id being put. */
  resourceId?: string;
  /** Default: the new ETag of the put. */
  expectedEtag?: string;
};

export interface OperationPatch {
  status?: OperationStatus;
  endTime?: string;
  error?: unknown;
}

export type SubscriptionState = 'Registered' | 'Warned' | 'Suspended' | 'Deleted' | 'Unregistered';

export interface SubscriptionRow {
  /** Subscription id (GUID), stored lower-cased. */
  id: string;
  state: SubscriptionState;
  tenantId?: string;
  properties: Record<string, unknown>;
  registrationDate: string;
}

/** One change-feed event. Deletes are tombstones: they carry no body. */
export interface ChangeEvent {
  revision: number;
  kind: 'upsert' | 'delete';
  id: string;
  type: string;
  customLocation: string | null;
  etag?: string;
  body?: Record<string, unknown>;
}

export interface PageRequest {
  /** Page size; default 100. */
  top?: number;
  /** Opaque token from a previous page's `nextSkipToken`. */
  skipToken?: string;
}

export interface Page<T> {
  items: T[];
  /** Present when there may be more items. */
  nextSkipToken?: string;
}

export interface PutOptions {
  /** Write only if the current ETag equals this one (`*` = exists); else PreconditionFailedError. */
  ifMatch?: string;
  /** `*`: write only if absent; else ConflictError. */
  ifNoneMatch?: '*';
  /** Create this async operation in the same transaction. */
  operation?: PutOperation;
}

export interface PutResult {
  resource: ResourceRow;
  created: boolean;
  /** Present when `options.operation` was given. */
  operation?: OperationRow;
}

export interface DeleteOptions {
  ifMatch?: string;
}

export interface ResourceWrites {
  get(id: string): Promise<ResourceRow | undefined>;
  put(input: ResourceInput, options?: PutOptions): Promise<PutResult>;
  /** Deletes the resource and every descendant; returns them (descendants first), [] if absent. */
  delete(id: string, options?: DeleteOptions): Promise<ResourceRow[]>;
}

export interface OperationWrites {
  get(id: string): Promise<OperationRow | undefined>;
  create(input: OperationInput): Promise<OperationRow>;
  /**
   * Compare-and-update: applies the patch only while the operation is non-terminal (and, when given,
   * its expectedEtag equals `expectedEtag`). Returns the updated row, or undefined if nothing matched.
   */
  update(id: string, patch: OperationPatch, compare?: { expectedEtag?: string }): Promise<OperationRow | undefined>;
}

export interface SubscriptionWrites {
  get(id: string): Promise<SubscriptionRow | undefined>;
  put(row: SubscriptionRow): Promise<SubscriptionRow>;
  /** Removes every resource (with delete events) and operation of the subscription; returns the count. */
  deleteData(subscriptionId: string): Promise<number>;
}

/** What a transaction body can do: reads see the transaction's own writes. */
export interface StoreTx {
  resources: ResourceWrites;
  operations: OperationWrites;
  subscriptions: SubscriptionWrites;
}

export interface ResourceReads extends ResourceWrites {
  /**
   * The stored body as JSON text with its ETag, for reads that only pass the body on. Where the
   * store knows it sees every write (SQLite) this is served from memory; see read-cache.ts.
   */
  getJson(id: string): Promise<ResourceJson | undefined>;
  listByParent(parentId: string, type: string, page?: PageRequest): Promise<Page<ResourceRow>>;
  listByResourceGroup(
    subscriptionId: string,
    resourceGroup: string,
    type: string,
    page?: PageRequest,
  ): Promise<Page<ResourceRow>>;
  listBySubscription(subscriptionId: string, type: string, page?: PageRequest): Promise<Page<ResourceRow>>;
  /** All resources bound to these custom locations (the agent's relist). */
  listByCustomLocations(customLocations: string[], page?: PageRequest): Promise<Page<ResourceRow>>;
  /** Direct children of a resource, optionally of one type. */
  countChildren(parentId: string, type?: string): Promise<number>;
}

export interface OperationReads extends OperationWrites {
  /** Non-terminal operations whose deadline is before `now`. */
  listExpired(now: string): Promise<OperationRow[]>;
  /** The newest non-terminal operation of a resource. */
  activeFor(resourceId: string): Promise<OperationRow | undefined>;
}

export interface Feed {
  /**
   * Events with revision > sinceRevision for these custom locations, in revision order, at most `limit`.
   * Throws GoneError when events after `sinceRevision` were compacted away (the watcher must relist).
   */
  changesSince(customLocations: string[], sinceRevision: number, limit?: number): Promise<ChangeEvent[]>;
  /** The highest committed revision (0 for an empty store). Read it before a relist, then watch from it. */
  currentRevision(): Promise<number>;
  /** The lowest revision that may still be in the feed; a watcher with since < oldestRevision() - 1 gets Gone. */
  oldestRevision(): Promise<number>;
  /** Drops events with revision < `revision` (clamped to currentRevision() + 1). */
  compactBefore(revision: number): Promise<void>;
  /**
   * Calls `listener(revision)` after commits (on PostgreSQL also other replicas' commits, via
   * LISTEN/NOTIFY). A hint to read `changesSince`, never the data itself. Returns unsubscribe.
   */
  subscribe(listener: (revision: number) => void): () => void;
  /** Resolves with currentRevision() once it is > `revision`, or with undefined when `signal` aborts. */
  waitForRevision(revision: number, signal?: AbortSignal): Promise<number | undefined>;
}

export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  resources: ResourceReads;
  operations: OperationReads;
  subscriptions: SubscriptionWrites;
  feed: Feed;
  /**
   * Runs `fn` as one transaction; rolled back if it throws. Writes are serialised, so keep `fn` short
   * and free of outside I/O. Use only `tx` inside: calling the store itself there throws.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
