import type { ValidateFunction } from 'ajv';
import type { JsonSchema } from './openapi.js';
import { createAjv, toViolation, type SchemaViolation } from './validator.js';

/**
 * A message that crosses a process or component boundary, checked against one JSON schema with the
 * project's ajv setup. `check` works on a copy: with `useDefaults` the copy gets the schema's
 * defaults, so both ends of an arrow see the same values for what the sender left out.
 */
export interface Contract<T> {
  /** The value (a checked copy) and its violations; the value is only a `T` when there are none. */
  check(value: unknown): { value: T; violations: SchemaViolation[] };
  /** The value as a `T`, or an Error naming the first offending field. */
  parse(value: unknown): T;
}

export function defineContract<T>(
  name: string,
  schema: () => JsonSchema,
  options: { useDefaults?: boolean } = {},
): Contract<T> {
  let validate: ValidateFunction | undefined; // compiled on first use: a process pays only for what it checks
  const check = (value: unknown) => {
    validate ??= createAjv(options).compile(schema());
    const copy = options.useDefaults ? structuredClone(value) : value;
    const ok = validate(copy);
    return { value: copy as T, violations: ok ? [] : (validate.errors ?? []).map(toViolation) };
  };
  return {
    check,
    parse(value) {
      const { value: checked, violations } = check(value);
      if (violations.length) throw new ContractError(name, violations);
      return checked;
    },
  };
}

export class ContractError extends Error {
  constructor(
    readonly contract: string,
    readonly violations: SchemaViolation[],
  ) {
    super(`${contract}: ${violations[0]!.message}`);
    this.name = 'ContractError';
  }
}

/**
 * The strict form of a flattened spec schema for a message between our own parts: an object takes
 * only the properties the spec names, so a renamed field is an error instead of being ignored.
 */
export function strictSchema(schema: JsonSchema): JsonSchema {
  const result: JsonSchema = { ...schema };
  if (result.properties) {
    result.properties = Object.fromEntries(
      Object.entries(result.properties as Record<string, JsonSchema>).map(([k, v]) => [k, strictSchema(v)]),
    );
    result.additionalProperties ??= false;
  } else if (result.additionalProperties && typeof result.additionalProperties === 'object') {
    result.additionalProperties = strictSchema(result.additionalProperties as JsonSchema);
  }
  if (result.items) result.items = strictSchema(result.items as JsonSchema);
  return result;
}
