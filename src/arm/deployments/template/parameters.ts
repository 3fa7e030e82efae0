import { atPath, ExpressionError } from './expression.js';
import { evaluateValue } from './evaluate.js';
import type { FunctionScope } from './functions.js';

const TYPES = ['string', 'securestring', 'int', 'bool', 'object', 'secureobject', 'array'];

export interface ResolvedParameter {
  type: string;
  value: unknown;
  secure: boolean;
}

/** Template parameters from the given values and defaults, type-checked [TPL-2]. */
export function resolveParameters(
  declared: unknown,
  given: Record<string, { value?: unknown; reference?: unknown }>,
  scope: (resolved: Record<string, ResolvedParameter>) => FunctionScope,
): Record<string, ResolvedParameter> {
  const declarations = (declared ?? {}) as Record<string, Record<string, unknown>>;
  const resolved: Record<string, ResolvedParameter> = {};
  const lower = new Map(Object.keys(declarations).map((k) => [k.toLowerCase(), k]));
  for (const name of Object.keys(given)) {
    if (!lower.has(name.toLowerCase()))
      throw new ExpressionError(`The template parameter '${name}' is not declared in the template.`);
    if (given[name]?.reference !== undefined)
      throw new ExpressionError(`The parameter '${name}' is a Key Vault reference, which is not supported here.`);
  }
  for (const [name, declaration] of Object.entries(declarations)) {
    atPath(`parameters.${name}`, () => {
      const type = String(declaration.type ?? '').toLowerCase();
      if (!TYPES.includes(type))
        throw new ExpressionError(`The parameter '${name}' has an unsupported type '${String(declaration.type)}'.`);
      const givenEntry = Object.entries(given).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
      let value: unknown;
      if (givenEntry && 'value' in givenEntry) value = givenEntry.value;
      else if ('defaultValue' in declaration) value = evaluateValue(declaration.defaultValue, scope(resolved));
      else throw new ExpressionError(`The value for the template parameter '${name}' is not provided.`);
      value = coerce(name, type, value);
      if (
        Array.isArray(declaration.allowedValues) &&
        !declaration.allowedValues.some((a) => JSON.stringify(a) === JSON.stringify(value))
      ) {
        throw new ExpressionError(
          `The provided value '${String(value)}' for the template parameter '${name}' is not valid. The value must be one of ${JSON.stringify(declaration.allowedValues)}.`,
        );
      }
      if (typeof value === 'number') {
        if (typeof declaration.minValue === 'number' && value < declaration.minValue)
          throw new ExpressionError(`The parameter '${name}' must be at least ${declaration.minValue}.`);
        if (typeof declaration.maxValue === 'number' && value > declaration.maxValue)
          throw new ExpressionError(`The parameter '${name}' must be at most ${declaration.maxValue}.`);
      }
      if (typeof value === 'string' || Array.isArray(value)) {
        if (typeof declaration.minLength === 'number' && value.length < declaration.minLength)
          throw new ExpressionError(`The parameter '${name}' must have a length of at least ${declaration.minLength}.`);
        if (typeof declaration.maxLength === 'number' && value.length > declaration.maxLength)
          throw new ExpressionError(`The parameter '${name}' must have a length of at most ${declaration.maxLength}.`);
      }
      resolved[name] = { type: normaliseType(type), value, secure: type.startsWith('secure') };
    });
  }
  return resolved;
}

function coerce(name: string, type: string, value: unknown): unknown {
  const wrong = () =>
    new ExpressionError(
      `The template parameter '${name}' expects a value of type '${type}', got ${JSON.stringify(value)}.`,
    );
  switch (type) {
    case 'string':
    case 'securestring':
      if (typeof value !== 'string') throw wrong();
      return value;
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
      throw wrong();
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw wrong();
    case 'array':
      if (!Array.isArray(value)) throw wrong();
      return value;
    default:
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw wrong();
      return value;
  }
}

/** Result type names: `String`, `SecureString`, `Int`, `Bool`, `Object`, `SecureObject`, `Array` [TPL-8]. */
export function normaliseType(type: string): string {
  const t = type.toLowerCase();
  return (
    {
      string: 'String',
      securestring: 'SecureString',
      int: 'Int',
      bool: 'Bool',
      object: 'Object',
      secureobject: 'SecureObject',
      array: 'Array',
    }[t] ?? type
  );
}
