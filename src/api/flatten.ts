import { refName, type JsonSchema, type OpenApiDocument } from './openapi.js';

/**
 * Resolves an OpenAPI 3 schema into one self-contained JSON schema: `$ref`s inlined, `allOf`
 * merged, extensible enums (`anyOf: [string, enum]`) reduced to their plain type with the known
 * values kept in `x-known-values`. The CRD generator builds Kubernetes structural schemas from
 * the result, so that the cluster sees exactly the properties the API defines.
 */
export function flattenSchema(document: OpenApiDocument, schema: JsonSchema, options: FlattenOptions = {}): JsonSchema {
  return new Flattener(document, options).flatten(schema, []);
}

export interface FlattenOptions {
  /** Leave out properties marked readOnly (what a client cannot set). */
  dropReadOnly?: boolean;
}

class Flattener {
  constructor(
    private readonly document: OpenApiDocument,
    private readonly options: FlattenOptions,
  ) {}

  flatten(schema: JsonSchema, seen: string[]): JsonSchema {
    if (typeof schema.$ref === 'string') {
      const name = refName(schema.$ref);
      if (seen.includes(name)) throw new Error(`recursive schema ${[...seen, name].join(' → ')} cannot be flattened`);
      const target = this.document.components.schemas[name];
      if (!target) throw new Error(`unknown schema ${name}`);
      return this.flatten(target, [...seen, name]);
    }
    let result: JsonSchema = {};
    for (const part of (schema.allOf as JsonSchema[] | undefined) ?? [])
      result = merge(result, this.flatten(part, seen));
    const { allOf: _allOf, anyOf, properties, items, additionalProperties, ...own } = schema;
    result = merge(result, own);
    if (anyOf) result = merge(result, this.flattenUnion(anyOf as JsonSchema[], seen));
    if (properties) {
      const flattened: Record<string, JsonSchema> = {};
      for (const [name, property] of Object.entries(properties as Record<string, JsonSchema>)) {
        const value = this.flatten(property, seen);
        if (this.options.dropReadOnly && value.readOnly === true) continue;
        flattened[name] = value;
      }
      result.properties = { ...(result.properties as object | undefined), ...flattened };
      if (Array.isArray(result.required)) {
        result.required = (result.required as string[]).filter((name) => name in (result.properties as object));
        if ((result.required as string[]).length === 0) delete result.required;
      }
    }
    if (items) result.items = this.flatten(items as JsonSchema, seen);
    if (additionalProperties && typeof additionalProperties === 'object') {
      result.additionalProperties = this.flatten(additionalProperties as JsonSchema, seen);
    } else if (additionalProperties !== undefined) {
      result.additionalProperties = additionalProperties;
    }
    return result;
  }

  /** Unions in this API are string enums, closed or open; anything else is a spec change to look at. */
  private flattenUnion(variants: JsonSchema[], seen: string[]): JsonSchema {
    const flattened = variants.map((v) => this.flatten(v, seen));
    const types = new Set(flattened.map((v) => v.type));
    if (types.size !== 1) throw new Error(`unsupported union of types ${[...types].join(', ')}`);
    const values = flattened.flatMap(
      (v) => (v.enum as unknown[] | undefined) ?? (v['x-known-values'] as unknown[] | undefined) ?? [],
    );
    const open = flattened.some((v) => v.enum === undefined && v['x-known-values'] === undefined);
    const union: JsonSchema = { type: [...types][0] };
    if (open) union['x-known-values'] = values;
    else union.enum = values;
    return union;
  }
}

function merge(a: JsonSchema, b: JsonSchema): JsonSchema {
  const result: JsonSchema = { ...a, ...b };
  if (a.properties && b.properties) result.properties = { ...(a.properties as object), ...(b.properties as object) };
  if (Array.isArray(a.required) || Array.isArray(b.required)) {
    result.required = [...new Set([...((a.required as string[]) ?? []), ...((b.required as string[]) ?? [])])];
  }
  // An outer description (on the property) wins over the referenced type's own description.
  if (b.description === undefined && a.description !== undefined) result.description = a.description;
  return result;
}
