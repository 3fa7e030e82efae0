// What a Kubernetes API server does to a custom resource with a structural schema on every write:
// prunes fields the schema does not know (unless x-kubernetes-preserve-unknown-fields) and fills
// in `default`s of absent properties (and of nulls where null is not allowed); before that,
// server-side apply refuses what it cannot type (applyTypingCauses), after it the schema is
// validated (validate, validateStatus: schema-validation.ts). The local cluster runs the same CRDs
// (extension/chart/crds) through this, so what the agent and operator read back is what they would
// read on Kubernetes: e.g. a listener applied without serviceType comes back with
// `serviceType: clusterIp`, owned by no field manager; a listener with serviceType `gigantic` is
// refused with 422, as kube-apiserver refuses it.
import { compileSchemaCheck, nameCauses, type SchemaCheck, type StructuralSchema } from './schema-validation.js';
import type { KubeObject, StatusCause } from './types.js';

export type { StructuralSchema } from './schema-validation.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Absent, or null where null is not allowed: the API server puts the default there. */
function defaultApplies(value: unknown, schema: StructuralSchema): boolean {
  return schema.default !== undefined && (value === undefined || (value === null && schema.nullable !== true));
}

/** Drops unknown fields and sets defaults, in place (pruning first, as the API server does). */
function normaliseValue(value: unknown, schema: StructuralSchema | undefined): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    for (const item of value) normaliseValue(item, schema.items);
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema.properties) {
    const preserve =
      schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties !== undefined;
    if (!preserve) for (const key of Object.keys(value)) if (!(key in schema.properties)) delete value[key];
    for (const [key, property] of Object.entries(schema.properties)) {
      if (defaultApplies(value[key], property)) value[key] = structuredClone(property.default);
      normaliseValue(value[key], property);
    }
  } else if (isPlainObject(schema.additionalProperties)) {
    for (const child of Object.values(value)) normaliseValue(child, schema.additionalProperties);
  } else if (
    schema.type === 'object' &&
    schema['x-kubernetes-preserve-unknown-fields'] !== true &&
    schema.additionalProperties === undefined
  ) {
    for (const key of Object.keys(value)) delete value[key];
  }
}

/** `spec.x` under `path` (`''` at the top). */
const child = (path: string, key: string) => (path ? `${path}.${key}` : key);

/**
 * What server-side apply refuses before any validation, when it types the applied object against
 * the schema: fields the schema does not declare, and two items with one key in a map-typed list
 * (`x-kubernetes-list-type: map`, e.g. two conditions of one type) — in its words.
 */
function typingCauses(value: unknown, schema: StructuralSchema | undefined, path: string, into: StatusCause[]): void {
  if (!schema || schema['x-kubernetes-preserve-unknown-fields'] === true) return;
  if (Array.isArray(value)) {
    if (schema['x-kubernetes-list-type'] === 'map')
      duplicateKeys(value, schema['x-kubernetes-list-map-keys'] ?? [], path, into);
    value.forEach((item, i) => typingCauses(item, schema.items, `${path}[${i}]`, into));
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema.properties) {
    for (const [key, item] of Object.entries(value)) {
      if (key in schema.properties) typingCauses(item, schema.properties[key], child(path, key), into);
      else if (schema.additionalProperties === undefined)
        into.push({ reason: 'FieldValueInvalid', message: 'field not declared in schema', field: child(path, key) });
    }
  } else if (isPlainObject(schema.additionalProperties)) {
    for (const [key, item] of Object.entries(value))
      typingCauses(item, schema.additionalProperties, child(path, key), into);
  }
}

function duplicateKeys(items: unknown[], keys: string[], path: string, into: StatusCause[]): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (!isPlainObject(item)) continue;
    const key = `[${keys.map((k) => `${k}=${JSON.stringify(item[k])}`).join(',')}]`;
    if (seen.has(key))
      into.push({ reason: 'FieldValueDuplicate', message: `duplicate entries for key ${key}`, field: path });
    seen.add(key);
  }
}

export interface SchemaRegistry {
  /** Prunes and defaults a custom resource of a known kind, in place; other objects pass untouched. */
  normalise(object: KubeObject): KubeObject;
  /**
   * What server-side apply refuses in an applied custom resource before validating it: undeclared
   * fields (`spec.bogus`) and duplicate keys in map-typed lists. Empty for other objects.
   */
  applyTypingCauses(object: KubeObject): StatusCause[];
  /**
   * What the API server refuses in a (pruned, defaulted) custom resource written through the main
   * resource: every field but status, which that write does not change. `previous` is the stored
   * object of an update: its unchanged values are not judged again (ratcheting). Empty when valid.
   */
  validate(object: KubeObject, previous?: KubeObject): StatusCause[];
  /** The same for a write of the status subresource: the status alone, whatever the spec holds. */
  validateStatus(object: KubeObject, previous?: KubeObject): StatusCause[];
}

/** One served version of a CRD: its schema and the checks compiled from it (on first use). */
interface VersionSchema {
  schema: StructuralSchema;
  object: SchemaCheck;
  status: SchemaCheck;
}

/** The schema of a write through the main resource: apiVersion, kind and metadata are the server's, status is not written. */
function withoutServerFields(schema: StructuralSchema): StructuralSchema {
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...properties } = schema.properties ?? {};
  return { ...schema, properties, required: schema.required?.filter((name) => name !== 'status') };
}

/** Schemas of the served versions of the given CustomResourceDefinitions, by apiVersion and kind. */
export function createSchemaRegistry(crds: readonly KubeObject[]): SchemaRegistry {
  const versions = new Map<string, VersionSchema>();
  for (const crd of crds) {
    const spec = crd.spec as {
      group: string;
      names: { kind: string };
      versions: { name: string; served?: boolean; schema?: { openAPIV3Schema?: StructuralSchema } }[];
    };
    for (const version of spec.versions) {
      const schema = version.schema?.openAPIV3Schema;
      if (version.served === false || !schema) continue;
      versions.set(`${spec.group}/${version.name}|${spec.names.kind}`, {
        schema,
        object: compileSchemaCheck(withoutServerFields(schema)),
        status: compileSchemaCheck(schema.properties?.status ?? {}, 'status'),
      });
    }
  }
  const schemas = new Map([...versions].map(([key, version]) => [key, version.schema]));
  const versionOf = (object: KubeObject) => versions.get(`${object.apiVersion}|${object.kind}`);
  /** The object without what the server owns, as the main resource's schema sees it. */
  const content = ({ apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest }: KubeObject) => rest;
  return {
    validate(object, previous) {
      const version = versionOf(object);
      if (!version) return [];
      // A name is judged when the object is created; it cannot change afterwards.
      const name = previous ? [] : nameCauses(object.metadata.name);
      return [...name, ...version.object(content(object), previous && content(previous))];
    },
    validateStatus(object, previous) {
      const version = versionOf(object);
      if (!version || object.status === undefined) return [];
      return version.status(object.status, previous ? (previous.status ?? {}) : undefined);
    },
    applyTypingCauses(object) {
      const schema = schemas.get(`${object.apiVersion}|${object.kind}`);
      if (!schema?.properties) return [];
      const found: StatusCause[] = [];
      for (const [key, value] of Object.entries(object)) {
        if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
        if (!(key in schema.properties))
          found.push({ reason: 'FieldValueInvalid', message: 'field not declared in schema', field: key });
        else typingCauses(value, schema.properties[key], key, found);
      }
      return found;
    },
    normalise(object) {
      const schema = schemas.get(`${object.apiVersion}|${object.kind}`);
      if (!schema?.properties) return object;
      // apiVersion, kind and metadata are the API server's own; everything else follows the schema.
      for (const key of Object.keys(object)) {
        if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
        if (!(key in schema.properties)) delete object[key];
      }
      for (const [key, property] of Object.entries(schema.properties)) {
        if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
        if (defaultApplies(object[key], property)) object[key] = structuredClone(property.default);
        normaliseValue(object[key], property);
      }
      return object;
    },
  };
}
