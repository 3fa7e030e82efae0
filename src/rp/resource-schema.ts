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

/**
 * Keys of request bodies are the caller's: they are looked up as own properties only (a body's
 * `constructor` is not Object.prototype's) and written as own data properties (assigning
 * `__proto__` would replace the object's prototype and lose the key) [issue 11 item 8].
 */
const own = <T>(record: Record<string, T> | undefined, key: string): T | undefined =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
const setOwn = (record: Json, key: string, value: unknown): void => {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
};
/** Most unknown properties reported for one body: enough to fix it, bounded for a hostile one. */
const MAX_UNKNOWN = 100;

/** A copy of `value` without the properties the schema marks read-only. */
export function withoutReadOnly(value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value) && schema.items) return value.map((v) => withoutReadOnly(v, schema.items as JsonSchema));
  if (!isObject(value)) return value;
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  const result: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const property = own(properties, key);
    if (property?.readOnly === true) continue;
    if (property) setOwn(result, key, withoutReadOnly(v, property));
    else if (typeof schema.additionalProperties === 'object')
      setOwn(result, key, withoutReadOnly(v, schema.additionalProperties as JsonSchema));
    else setOwn(result, key, v);
  }
  return result;
}

/**
 * Properties the schema does not define, as violations with their JSON path: the first
 * `MAX_UNKNOWN`, then one violation that counts the rest (a body may carry 100,000s of them).
 */
export function unknownProperties(value: unknown, schema: JsonSchema): SchemaViolation[] {
  const found: SchemaViolation[] = [];
  let more = 0;
  const visit = (value: unknown, schema: JsonSchema, path: string): void => {
    if (Array.isArray(value) && schema.items) {
      value.forEach((v, i) => visit(v, schema.items as JsonSchema, `${path}[${i}]`));
      return;
    }
    if (!isObject(value)) return;
    const properties = schema.properties as Record<string, JsonSchema> | undefined;
    const additional = schema.additionalProperties;
    if (!properties && additional === undefined) return; // a free-form object
    for (const [key, v] of Object.entries(value)) {
      const target = path ? `${path}.${key}` : key;
      const property = own(properties, key);
      if (property) visit(v, property, target);
      else if (typeof additional === 'object') visit(v, additional as JsonSchema, target);
      else if (additional === true) continue;
      else if (found.length < MAX_UNKNOWN - 1)
        found.push({ target, message: `'${target}' is not a property of this resource type.` });
      else more++;
    }
  };
  visit(value, schema, '');
  if (more > 0)
    found.push({
      target: found[0]!.target,
      message: `${found.length + more} properties are not properties of this resource type in all.`,
    });
  return found;
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
    else setOwn(result, key, mergePatch(own(result, key), value));
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
      keys.every((k) => jsonEqual(a[k], own(b, k)))
    );
  }
  return false;
}
