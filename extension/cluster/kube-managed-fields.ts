// Kubernetes' managedFields (FieldsV1 trie: `f:spec` → `f:port`, `v:"x"` for set members,
// `k:{...}` for map-list keys) in the light form both ClusterClients return (types.ts): one leaf
// path per owned field, encoded as the local cluster encodes them, so callers compare managers
// and fields without caring which cluster answered.
import type { ManagedFieldsEntry } from './types.js';

export interface KubeManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  subresource?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
}

function leaves(node: Record<string, unknown>, path: string[], into: string[]): void {
  const children = Object.entries(node).filter(([key]) => key !== '.');
  if (children.length === 0) {
    into.push(JSON.stringify(path));
    return;
  }
  for (const [key, child] of children) {
    // `v:"fin"` (a set member, e.g. a finalizer) is `=fin` locally; `f:x` is the field x; `k:{…}` stays as is.
    const segment = key.startsWith('f:')
      ? key.slice(2)
      : key.startsWith('v:')
        ? `=${JSON.parse(key.slice(2)) as string}`
        : key;
    leaves((child ?? {}) as Record<string, unknown>, [...path, segment], into);
  }
}

export function fromKubeManagedFields(entries: KubeManagedFieldsEntry[]): ManagedFieldsEntry[] {
  return entries.map((entry) => {
    const fields: string[] = [];
    leaves(entry.fieldsV1 ?? {}, [], fields);
    return {
      manager: entry.manager,
      operation: entry.operation,
      ...(entry.subresource ? { subresource: entry.subresource } : {}),
      time: entry.time ?? '',
      fields: fields.filter((f) => f !== '[]').sort(),
    };
  });
}
