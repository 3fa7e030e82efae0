// Server-side apply, light: which manager owns which leaf fields, when an apply conflicts, and
// what an apply removes. Same rules as Kubernetes where the agent and the operator depend on them:
// maps merge per key, lists are atomic except `metadata.finalizers` (a set), a field owned by
// another manager may only be changed with `force`, and fields a manager stops applying are
// removed unless someone else owns them.
import { isDeepStrictEqual } from 'node:util';
import { ClusterError, type KubeObject, type ManagedFieldsEntry } from './types.js';

type Path = string[];

/** Top-level keys that are never applied as fields (identity, server-owned, or a subresource). */
const NOT_APPLIED = new Set(['apiVersion', 'kind', 'metadata', 'status']);
const METADATA_MAPS = ['labels', 'annotations'] as const;

const encode = (path: Path) => JSON.stringify(path);
const decode = (field: string) => JSON.parse(field) as Path;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function collect(value: unknown, path: Path, into: Map<string, unknown>): void {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) collect(child, [...path, key], into);
  } else {
    into.set(encode(path), value);
  }
}

/** Leaf fields of the parts of an object a manager applies, with their values. */
export function appliedFields(object: KubeObject): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (const [key, value] of Object.entries(object)) if (!NOT_APPLIED.has(key)) collect(value, [key], fields);
  for (const map of METADATA_MAPS) {
    for (const [key, value] of Object.entries(object.metadata[map] ?? {}))
      fields.set(encode(['metadata', map, key]), value);
  }
  for (const finalizer of object.metadata.finalizers ?? [])
    fields.set(encode(['metadata', 'finalizers', `=${finalizer}`]), true);
  if (object.metadata.ownerReferences)
    fields.set(encode(['metadata', 'ownerReferences']), object.metadata.ownerReferences);
  return fields;
}

/** Leaf fields of the status, for the status subresource. */
export function statusFields(status: Record<string, unknown>): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  collect(status, ['status'], fields);
  return fields;
}

function readPath(object: KubeObject, path: Path): unknown {
  if (path[0] === 'metadata' && path[1] === 'finalizers')
    return object.metadata.finalizers?.includes(path[2]!.slice(1)) ? true : undefined;
  let node: unknown = object;
  for (const key of path) {
    if (!isPlainObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

function writePath(object: KubeObject, path: Path, value: unknown): void {
  if (path[0] === 'metadata' && path[1] === 'finalizers') {
    const finalizer = path[2]!.slice(1);
    const list = (object.metadata.finalizers ??= []);
    if (!list.includes(finalizer)) list.push(finalizer);
    return;
  }
  let node = object as Record<string, unknown>;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = structuredClone(value);
}

function removePath(object: KubeObject, path: Path): void {
  if (path[0] === 'metadata' && path[1] === 'finalizers') {
    const finalizer = path[2]!.slice(1);
    object.metadata.finalizers = (object.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (object.metadata.finalizers.length === 0) delete object.metadata.finalizers;
    return;
  }
  const parents: Record<string, unknown>[] = [];
  let node = object as Record<string, unknown>;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) return;
    parents.push(node);
    node = node[key] as Record<string, unknown>;
  }
  delete node[path.at(-1)!];
  // Drop maps the removal left empty, but keep top-level sections (`spec: {}` stays).
  for (let depth = path.length - 2; depth >= 1; depth--) {
    const parent = parents[depth]!;
    const key = path[depth]!;
    if (isPlainObject(parent[key]) && Object.keys(parent[key] as object).length === 0) delete parent[key];
    else break;
  }
}

export interface FieldConflict {
  manager: string;
  field: string;
}

export interface MergeInput {
  existing: KubeObject | undefined;
  /** Fields the manager applies now (from appliedFields or statusFields). */
  fields: Map<string, unknown>;
  manager: string;
  subresource?: 'status';
  force: boolean;
  now: string;
}

/**
 * Merges an apply into the existing object: conflicts unless forced, removes what this manager
 * no longer applies, sets what it applies, and records ownership. Returns a new object (the
 * input is not modified); throws a `Conflict` ClusterError listing the contested fields.
 */
export function mergeApply(base: KubeObject, input: MergeInput): KubeObject {
  const result = structuredClone(base);
  const entries = structuredClone(input.existing?.metadata.managedFields ?? []);
  const sameSection = (entry: ManagedFieldsEntry) => (entry.subresource ?? '') === (input.subresource ?? '');
  const others = entries.filter((entry) => entry.manager !== input.manager);
  const conflicts: FieldConflict[] = [];
  if (input.existing) {
    for (const entry of others) {
      for (const field of entry.fields) {
        if (
          input.fields.has(field) &&
          !isDeepStrictEqual(input.fields.get(field), readPath(input.existing, decode(field)))
        ) {
          conflicts.push({ manager: entry.manager, field });
        }
      }
    }
  }
  if (conflicts.length && !input.force) {
    const list = conflicts.map((c) => `${decode(c.field).join('.')} (owned by ${c.manager})`).join(', ');
    throw new ClusterError('Conflict', `Apply failed with ${conflicts.length} conflict(s): ${list}`, 409);
  }
  const ownedByOthers = new Set(others.flatMap((entry) => entry.fields));
  const previous = entries.find((entry) => entry.manager === input.manager && sameSection(entry));
  for (const field of previous?.fields ?? []) {
    if (!input.fields.has(field) && !ownedByOthers.has(field)) removePath(result, decode(field));
  }
  for (const [field, value] of input.fields) writePath(result, decode(field), value);

  // Forced fields change hands; fields with equal values stay shared, as in Kubernetes.
  const taken = new Set(conflicts.map((c) => c.field));
  const next: ManagedFieldsEntry[] = [];
  for (const entry of entries) {
    if (entry === previous) continue;
    const fields = entry.fields.filter((field) => !taken.has(field));
    if (fields.length) next.push({ ...entry, fields });
  }
  if (input.fields.size) {
    const unchanged = previous && isDeepStrictEqual(new Set(previous.fields), new Set(input.fields.keys()));
    next.push({
      manager: input.manager,
      operation: 'Apply',
      ...(input.subresource ? { subresource: input.subresource } : {}),
      time: unchanged ? previous.time : input.now,
      fields: [...input.fields.keys()].sort(),
    });
  }
  result.metadata.managedFields = next;
  return result;
}

/** What generation tracks: everything but metadata and status. */
export function specOf(object: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest } = object;
  return rest;
}
