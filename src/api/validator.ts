import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { loadOpenApi, type OpenApiDocument } from './openapi.js';

// ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  addFormatsModule) as FormatsPlugin;

/** One offending property, in ARM's terms: `target` is the JSON path into the request body. */
export interface SchemaViolation {
  target: string;
  message: string;
}

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

export function toViolation(error: ErrorObject): SchemaViolation {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') path.push(String(error.params.missingProperty));
  if (error.keyword === 'additionalProperties') path.push(String(error.params.additionalProperty));
  const target = path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  return { target, message: describe(error, target) };
}

function describe(error: ErrorObject, target: string): string {
  const subject = target ? `'${target}'` : 'The request body';
  switch (error.keyword) {
    case 'required':
      return `${subject} is required.`;
    case 'enum':
      return `${subject} must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}.`;
    case 'type':
      return `${subject} must be of type ${error.params.type}.`;
    case 'pattern':
      return `${subject} must match the pattern ${error.params.pattern}.`;
    case 'additionalProperties':
      return `${subject} is not a known property.`;
    default:
      return `${subject} ${error.message ?? 'is invalid'}.`;
  }
}
