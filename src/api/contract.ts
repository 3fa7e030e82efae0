import type { JsonSchema } from './openapi.js';
import { toViolation, type SchemaViolation } from './violations.js';

/**
 * A message that crosses a process or component boundary, checked against one JSON schema with the
 * project's ajv setup. `check` works on a copy: with defaults, the copy gets the schema's defaults,
 * so both ends of an arrow see the same values for what the sender left out.
 */
export interface Contract<T> {
  /** The value (a checked copy) and its violations; the value is only a `T` when there are none. */
  check(value: unknown): { value: T; violations: SchemaViolation[] };
  /** The value as a `T`, or a ContractError naming the first offending field. */
  parse(value: unknown): T;
}

/** What ajv compiles (at run time, or ahead of time as standalone code). */
export interface CompiledSchema {
  (value: unknown): boolean;
  errors?: Parameters<typeof toViolation>[0][] | null;
}

/**
 * A contract over a compiled check. `fillsDefaults`: the check writes the schema's defaults into
 * what it checks, so it gets a copy.
 */
export function contractOf<T>(
  name: string,
  compiled: () => CompiledSchema,
  options: { fillsDefaults?: boolean } = {},
): Contract<T> {
  let validate: CompiledSchema | undefined; // made on first use: a process pays only for what it checks
  const check = (value: unknown) => {
    validate ??= compiled();
    const copy = options.fillsDefaults ? structuredClone(value) : value;
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
