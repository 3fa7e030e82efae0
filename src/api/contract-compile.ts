import { contractOf, type Contract } from './contract.js';
import type { JsonSchema } from './openapi.js';
import { createAjv } from './validator.js';

/** A contract whose schema is compiled at run time, on first use, by the project's ajv setup. */
export function defineContract<T>(
  name: string,
  schema: () => JsonSchema,
  options: { useDefaults?: boolean } = {},
): Contract<T> {
  return contractOf<T>(name, () => createAjv(options).compile(schema()), { fillsDefaults: options.useDefaults });
}
