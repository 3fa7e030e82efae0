import type { ErrorObject } from 'ajv';

// ajv's errors in ARM's terms, for the RP's request bodies and every contract in src/api. Apart
// from validator.ts so that a process checking a precompiled contract (the broker) loads no ajv.

/** One offending property, in ARM's terms: `target` is the JSON path into the request body. */
export interface SchemaViolation {
  target: string;
  message: string;
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
