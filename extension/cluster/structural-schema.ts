// What a Kubernetes API server does to a custom resource with a structural schema on every write:
// prunes fields the schema does not know (unless x-kubernetes-preserve-unknown-fields) and fills
// in `default`s of absent properties. The local cluster runs the same CRDs (extension/chart/crds)
// through this, so what the agent and operator read back is what they would read on Kubernetes:
// e.g. a listener applied without serviceType comes back with `serviceType: clusterIp`, owned by
// no field manager; a condition field the schema lacks is dropped.
import type { KubeObject } from './types.js';

export interface StructuralSchema {
  type?: string;
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: boolean | StructuralSchema;
  default?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
      if (value[key] === undefined && property.default !== undefined) value[key] = structuredClone(property.default);
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

/** Paths of fields the schema does not declare (what server-side apply refuses). */
function undeclared(value: unknown, schema: StructuralSchema | undefined, path: string, into: string[]): void {
  if (!schema || schema['x-kubernetes-preserve-unknown-fields'] === true) return;
  if (Array.isArray(value)) {
    value.forEach((item) => undeclared(item, schema.items, `${path}[]`, into));
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema.properties) {
    for (const [key, child] of Object.entries(value)) {
      if (key in schema.properties) undeclared(child, schema.properties[key], `${path}.${key}`, into);
      else if (schema.additionalProperties === undefined) into.push(`${path}.${key}`);
    }
  } else if (isPlainObject(schema.additionalProperties)) {
    for (const [key, child] of Object.entries(value))
      undeclared(child, schema.additionalProperties, `${path}.${key}`, into);
  }
}

export interface SchemaRegistry {
  /** Prunes and defaults a custom resource of a known kind, in place; other objects pass untouched. */
  normalise(object: KubeObject): KubeObject;
  /** Fields of an applied custom resource its schema does not declare, e.g. `.spec.bogus`. */
  undeclaredFields(object: KubeObject): string[];
}

/** Schemas of the served versions of the given CustomResourceDefinitions, by apiVersion and kind. */
export function createSchemaRegistry(crds: readonly KubeObject[]): SchemaRegistry {
  const schemas = new Map<string, StructuralSchema>();
  for (const crd of crds) {
    const spec = crd.spec as {
      group: string;
      names: { kind: string };
      versions: { name: string; served?: boolean; schema?: { openAPIV3Schema?: StructuralSchema } }[];
    };
    for (const version of spec.versions) {
      if (version.served === false || !version.schema?.openAPIV3Schema) continue;
      schemas.set(`${spec.group}/${version.name}|${spec.names.kind}`, version.schema.openAPIV3Schema);
    }
  }
  return {
    undeclaredFields(object) {
      const schema = schemas.get(`${object.apiVersion}|${object.kind}`);
      if (!schema?.properties) return [];
      const found: string[] = [];
      for (const [key, value] of Object.entries(object)) {
        if (key === 'apiVersion' || key === 'kind' || key === 'metadata') continue;
        if (!(key in schema.properties)) found.push(`.${key}`);
        else undeclared(value, schema.properties[key], `.${key}`, found);
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
        if (object[key] === undefined && property.default !== undefined)
          object[key] = structuredClone(property.default);
        normaliseValue(object[key], property);
      }
      return object;
    },
  };
}
