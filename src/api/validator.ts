import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { loadOpenApi, type OpenApiDocument } from './openapi.js';
import { toViolation, type SchemaViolation } from './violations.js';

// ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  addFormatsModule) as FormatsPlugin;

export { toViolation, type SchemaViolation } from './violations.js';

/**
 * The one ajv setup of the project (the RP's request bodies and every contract in src/api): all
 * errors, the spec's formats. `useDefaults` fills in the spec's defaults (contracts only).
 */
export function createAjv(options: { useDefaults?: boolean } = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true, ...options });
  addFormats(ajv);
  // Azure formats without a JSON Schema counterpart: checked elsewhere (ids) or free-form.
  ajv.addFormat('arm-id', true);
  ajv.addFormat('duration', true);
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  return ajv;
}

/**
 * Validates JSON values against the components of the emitted OpenAPI 3 document. One compiled
 * function per schema name, built on first use.
 */
export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument = loadOpenApi()) {
    this.ajv = createAjv();
    this.ajv.addSchema({ components: document.components }, 'openapi');
  }

  /** Violations of `value` against `#/components/schemas/<schemaName>`; empty when valid. */
  validate(schemaName: string, value: unknown): SchemaViolation[] {
    const validate = this.compile(schemaName);
    if (validate(value)) return [];
    return (validate.errors ?? []).map(toViolation);
  }

  private compile(schemaName: string): ValidateFunction {
    let validate = this.compiled.get(schemaName);
    if (!validate) {
      if (!this.document.components.schemas[schemaName]) throw new Error(`unknown schema ${schemaName}`);
      validate = this.ajv.getSchema(`openapi#/components/schemas/${schemaName}`)!;
      this.compiled.set(schemaName, validate);
    }
    return validate;
  }
}
