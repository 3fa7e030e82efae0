import { flattenSchema } from '../api/flatten.js';
import type { JsonSchema, OpenApiDocument } from '../api/openapi.js';
import type { ResourceType } from '../api/registry.js';
import type { SchemaViolation } from '../api/validator.js';

/**
 * What the RP needs to know about a body beyond "is it valid": which fields are read-only (ignored
 * on input [PUT-8]), which are unknown (refused, so a typo never silently loses a setting), and the
 * defaults of what was left out (a PUT replaces the whole resource [PUT-1]). All three walk the
 * flattened schema of the resource type, computed once per type.
 */
export class ResourceSchemas {
  private readonly flattened = new Map<string, JsonSchema>();

  constructor(private readonly document: OpenApiDocument) {}

  /** The flattened schema of a component by name. */
  schema(name: string): JsonSchema {
    let schema = this.flattened.get(name);
    if (!schema) {
      schema = flattenSchema(
        this.document,
        this.document.components.schemas[name] ?? { $ref: `#/components/schemas/${name}` },
      );
      this.flattened.set(name, schema);
    }
    return schema;
  }

  resource(type: ResourceType): JsonSchema {
    return this.schema(type.schemas.resource);
  }
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of `value` without the properties the schema marks read-only. */
export function withoutReadOnly(value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value) && schema.items) return value.map((v) => withoutReadOnly(v, schema.items as JsonSchema));
  if (!isObject(value)) return value;
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  const result: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const property = properties?.[key];
    if (property?.readOnly === true) continue;
    if (property) result[key] = withoutReadOnly(v, property);
    else if (typeof schema.additionalProperties === 'object')
      result[key] = withoutReadOnly(v, schema.additionalProperties as JsonSchema);
    else result[key] = v;
  }
  return result;
}

/** Properties the schema does not define, as violations with their JSON path. */
export function unknownProperties(value: unknown, schema: JsonSchema, path = ''): SchemaViolation[] {
  if (Array.isArray(value) && schema.items) {
    return value.flatMap((v, i) => unknownProperties(v, schema.items as JsonSchema, `${path}[${i}]`));
  }
  if (!isObject(value)) return [];
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  const additional = schema.additionalProperties;
  if (!properties && additional === undefined) return []; // a free-form object
  const violations: SchemaViolation[] = [];
  for (const [key, v] of Object.entries(value)) {
    const target = path ? `${path}.${key}` : key;
    const property = properties?.[key];
    if (property) violations.push(...unknownProperties(v, property, target));
    else if (typeof additional === 'object') violations.push(...unknownProperties(v, additional as JsonSchema, target));
    else if (additional !== true)
      violations.push({ target, message: `'${target}' is not a property of this resource type.` });
  }
  return violations;
}

/** Fills in schema defaults for properties left out of the objects that are present. */
export function withDefaults(value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value) && schema.items) return value.map((v) => withDefaults(v, schema.items as JsonSchema));
  if (!isObject(value)) return value;
  const result: Json = { ...value };
  for (const [key, property] of Object.entries((schema.properties as Record<string, JsonSchema>) ?? {})) {
    if (result[key] === undefined && property.default !== undefined && property.readOnly !== true) {
      result[key] = structuredClone(property.default);
    } else if (result[key] !== undefined) {
      result[key] = withDefaults(result[key], property);
    }
  }
  return result;
}

/** RFC 7396 JSON merge patch: null removes, objects merge, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Deep equality of JSON values, ignoring object key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a).filter((k) => a[k] !== undefined);
    return (
      keys.length === Object.keys(b).filter((k) => b[k] !== undefined).length &&
      keys.every((k) => jsonEqual(a[k], b[k]))
    );
  }
  return false;
}
