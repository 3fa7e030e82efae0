import { flattenSchema } from './flatten.js';
import type { JsonSchema, OpenApiDocument } from './openapi.js';

/**
 * The API's schemas as the service enforces them. An extensible enum (a TypeSpec union with
 * `string`, emitted as `anyOf: [string, enum]` and as `x-ms-enum.modelAsString` in the Swagger) is
 * open for *clients*, so that values a later version adds do not break them; the service knows the
 * values of its own version and refuses any other (400 InvalidRequestProperties, the property as
 * `target`). This is the one place where the open form becomes the closed one: the RP validates
 * against the result, and the CRDs are generated from it so that the API server refuses the same
 * values. The emitted Swagger and OpenAPI files stay open.
 */
export function closeExtensibleEnums(document: OpenApiDocument): OpenApiDocument {
  const close = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(close);
    if (typeof node !== 'object' || node === null) return node;
    const schema = node as JsonSchema;
    if (Array.isArray(schema.anyOf)) {
      const closed = closedEnum(document, schema);
      if (closed) return closed;
    }
    return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, close(value)]));
  };
  return {
    ...document,
    components: { ...document.components, schemas: close(document.components.schemas) as Record<string, JsonSchema> },
  };
}

/** `{ type: string, enum: [known values] }` for an extensible string enum; undefined for any other union. */
function closedEnum(document: OpenApiDocument, schema: JsonSchema): JsonSchema | undefined {
  const { anyOf: _anyOf, ...own } = schema;
  const union = flattenSchema(document, { anyOf: schema.anyOf });
  const known = union['x-known-values'];
  if (union.type !== 'string' || !Array.isArray(known)) return undefined;
  return { ...own, type: 'string', enum: known };
}
