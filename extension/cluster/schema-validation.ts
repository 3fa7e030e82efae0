// What kube-apiserver checks of a custom resource after pruning and defaulting: the CRD's structural
// schema (types, enum, required, pattern, ranges, lengths, nullable, x-kubernetes-int-or-string,
// x-kubernetes-preserve-unknown-fields), refusing with 422 Invalid and one cause per offending field
// in the API server's words (`spec.serviceType: Unsupported value: "gigantic": supported values: …`).
// The schema is turned into a JSON schema for ajv once per CRD version. Updates ratchet as
// Kubernetes does (CRDValidationRatcheting): a value left unchanged by the write is not re-judged,
// so an object stored before its CRD tightened can still be updated elsewhere and get its status.
import { isDeepStrictEqual } from 'node:util';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ClusterError, type KubeObject, type StatusCause } from './types.js';

/** The keywords of an OpenAPI v3 schema a CRD may use (apiextensions.k8s.io/v1 JSONSchemaProps). */
export interface StructuralSchema {
  type?: string;
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: boolean | StructuralSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  uniqueItems?: boolean;
  multipleOf?: number;
  allOf?: StructuralSchema[];
  anyOf?: StructuralSchema[];
  oneOf?: StructuralSchema[];
  not?: StructuralSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

/** Checks a value against one schema; `previous` (an update's stored value) turns on ratcheting. */
export type SchemaCheck = (value: unknown, previous?: unknown) => StatusCause[];

/**
 * One ajv for every CRD: the formats kube-apiserver validates that our CRDs use (the rest pass,
 * as they do on Kubernetes for formats it does not know).
 */
let shared: Ajv | undefined;
function ajv(): Ajv {
  if (shared) return shared;
  shared = new Ajv({ allErrors: true, strict: false, validateFormats: true, verbose: true, logger: false });
  shared.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  shared.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  // RFC 3339 as kube-apiserver reads it: a `T`, a zone (`Z` or `±hh:mm`), a date and time that exist.
  shared.addFormat('date-time', {
    type: 'string',
    validate: (s: string) =>
      /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) &&
      !Number.isNaN(Date.parse(s.toUpperCase())),
  });
  shared.addFormat('date', {
    type: 'string',
    validate: (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)),
  });
  shared.addFormat('uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i);
  shared.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  return shared;
}

/** Compiled checks by schema text: a CRD version is compiled once per process, however many clusters use it. */
const checks = new Map<string, ValidateFunction>();
function compiled(jsonSchema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(jsonSchema);
  let validate = checks.get(key);
  if (!validate) checks.set(key, (validate = ajv().compile(jsonSchema)));
  return validate;
}

/** The JSON schema (draft 7, as ajv reads it) that says what the structural schema says. */
export function toJsonSchema(schema: StructuralSchema): Record<string, unknown> {
  const {
    type,
    nullable,
    properties,
    items,
    additionalProperties,
    exclusiveMinimum,
    exclusiveMaximum,
    minimum,
    maximum,
    allOf,
    anyOf,
    oneOf,
    not,
    default: _default,
    'x-kubernetes-int-or-string': intOrString,
    ...rest
  } = schema;
  const result: Record<string, unknown> = {};
  for (const key of CHECKED_AS_IS) if (rest[key] !== undefined) result[key] = rest[key];
  const types = intOrString ? ['integer', 'string'] : type ? [type] : [];
  if (types.length) result.type = nullable ? [...types, 'null'] : types.length === 1 ? types[0] : types;
  if (nullable && Array.isArray(result.enum)) result.enum = [...result.enum, null];
  // OpenAPI v3.0's boolean exclusive bounds are draft 7's numeric ones.
  if (minimum !== undefined) result[exclusiveMinimum ? 'exclusiveMinimum' : 'minimum'] = minimum;
  if (maximum !== undefined) result[exclusiveMaximum ? 'exclusiveMaximum' : 'maximum'] = maximum;
  if (properties)
    result.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, toJsonSchema(v)]));
  if (items) result.items = toJsonSchema(items);
  if (typeof additionalProperties === 'object') result.additionalProperties = toJsonSchema(additionalProperties);
  // int-or-string fields carry anyOf [{type: integer}, {type: string}]: already said by `type`.
  if (allOf) result.allOf = allOf.map(toJsonSchema);
  if (anyOf && !intOrString) result.anyOf = anyOf.map(toJsonSchema);
  if (oneOf) result.oneOf = oneOf.map(toJsonSchema);
  if (not) result.not = toJsonSchema(not);
  return result;
}

const CHECKED_AS_IS = [
  'required',
  'enum',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'uniqueItems',
  'multipleOf',
] as const;

/**
 * Compiles the check of a value against `schema` (on first use), reporting fields under `root`
 * (`''` for a whole object, `status` for the status subresource).
 */
export function compileSchemaCheck(schema: StructuralSchema, root = ''): SchemaCheck {
  let validate: ValidateFunction | undefined;
  return (value, previous) => {
    validate ??= compiled(toJsonSchema(schema));
    if (validate(value)) return [];
    const errors = firstStringErrors(validate.errors ?? []).filter(
      // Ratcheting: what the write left as it was is not judged again.
      (error) => previous === undefined || !isDeepStrictEqual(at(value, error), at(previous, error)),
    );
    return errors.map((error) => causeOf(error, root));
  };
}

/** kube-apiserver judges a string's length and pattern in this order and names only the first failure. */
const STRING_CHECKS = ['maxLength', 'minLength', 'pattern'];

function firstStringErrors(errors: ErrorObject[]): ErrorObject[] {
  return errors.filter((error) => {
    const rank = STRING_CHECKS.indexOf(error.keyword);
    return !errors.some(
      (other) =>
        other.instancePath === error.instancePath &&
        STRING_CHECKS.includes(other.keyword) &&
        STRING_CHECKS.indexOf(other.keyword) < rank,
    );
  });
}

/** The value an error judged (the object itself for `required`). */
function at(value: unknown, error: ErrorObject): unknown {
  let node = value;
  for (const segment of segmentsOf(error.instancePath)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

function segmentsOf(instancePath: string): string[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `spec.listeners[0].port`: the field path Kubernetes names in a cause. */
function fieldPath(root: string, segments: string[]): string {
  let path = root;
  for (const segment of segments) path += /^\d+$/.test(segment) ? `[${segment}]` : path ? `.${segment}` : segment;
  return path;
}

/** Go's name for a JSON value's type, as kube-apiserver prints it. */
function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** A value as `Invalid value: …` shows it: JSON for scalars. */
function shown(value: unknown): string {
  return typeof value === 'object' && value !== null ? typeName(value) : JSON.stringify(value);
}

function causeOf(error: ErrorObject, root: string): StatusCause {
  const segments = segmentsOf(error.instancePath);
  const field = fieldPath(root, segments);
  const value = error.data;
  const params = error.params as Record<string, unknown>;
  const invalid = (text: string): StatusCause => ({
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${shown(value)}: ${field} in body ${text}`,
    field,
  });
  switch (error.keyword) {
    case 'required':
      return {
        reason: 'FieldValueRequired',
        message: 'Required value',
        field: fieldPath(root, [...segments, String(params.missingProperty)]),
      };
    case 'type': {
      let expected = String(params.type)
        .split(',')
        .filter((t) => t !== 'null')
        .join(',');
      let actual = typeName(value);
      // A fraction for a sized integer is named by the size, and Go's name for the fraction.
      const format = (error.parentSchema as { format?: unknown } | undefined)?.format;
      if (expected === 'integer' && actual === 'number' && (format === 'int32' || format === 'int64')) {
        expected = format;
        actual = 'float64';
      }
      return {
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: "${actual}": ${field} in body must be of type ${expected}: "${actual}"`,
        field,
      };
    }
    case 'format':
      if (params.format === 'int32' || params.format === 'int64')
        return {
          reason: 'FieldValueInvalid',
          message: `Invalid value: "": Checked value must be of type integer with format ${params.format} in ${field}`,
          field, // kube-apiserver names no field (`<nil>`) for this one; the message does
        };
      return {
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: ${shown(value)}: ${field} in body must be of type ${String(params.format)}: ${shown(value)}`,
        field,
      };
    case 'enum':
      return {
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${shown(value)}: supported values: ${(params.allowedValues as unknown[])
          .filter((v) => v !== null)
          .map((v) => JSON.stringify(v))
          .join(', ')}`,
        field,
      };
    case 'minimum':
      return invalid(`should be greater than or equal to ${String(params.limit)}`);
    case 'exclusiveMinimum':
      return invalid(`should be greater than ${String(params.limit)}`);
    case 'maximum':
      return invalid(`should be less than or equal to ${String(params.limit)}`);
    case 'exclusiveMaximum':
      return invalid(`should be less than ${String(params.limit)}`);
    case 'pattern':
      return invalid(`should match '${String(params.pattern)}'`);
    case 'minLength':
      return invalid(`should be at least ${String(params.limit)} chars long`);
    case 'maxLength':
      return {
        reason: 'FieldValueTooLong',
        message: `Too long: may not be more than ${String(params.limit)} ${params.limit === 1 ? 'byte' : 'bytes'}`,
        field,
      };
    case 'minItems':
      return invalid(`should have at least ${String(params.limit)} items`);
    case 'maxItems':
      return {
        reason: 'FieldValueTooMany',
        message: `Too many: ${Array.isArray(value) ? value.length : 0}: must have at most ${String(params.limit)} items`,
        field,
      };
    default:
      return invalid(error.message ?? 'is invalid');
  }
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * What kube-apiserver says of a custom resource's name (an RFC 1123 subdomain), in its words. An ARM
 * resource name may hold capitals; a Kubernetes object's may not.
 */
export function nameCauses(name: string): StatusCause[] {
  const invalid = (text: string): StatusCause => ({
    reason: 'FieldValueInvalid',
    message: `Invalid value: ${JSON.stringify(name)}: ${text}`,
    field: 'metadata.name',
  });
  const causes: StatusCause[] = [];
  if (name.length > 253) causes.push(invalid('must be no more than 253 characters'));
  if (!DNS1123_SUBDOMAIN.test(name))
    causes.push(
      invalid(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ),
    );
  return causes;
}

/** The API server's refusal of an invalid object: 422 Invalid, `Kind.group "name" is invalid: …`, every cause. */
export function invalidObject(
  object: Pick<KubeObject, 'apiVersion' | 'kind'> & { metadata: { name: string } },
  causes: readonly StatusCause[],
): ClusterError {
  const group = object.apiVersion.includes('/') ? object.apiVersion.slice(0, object.apiVersion.lastIndexOf('/')) : '';
  const each = causes.map((cause) => `${cause.field}: ${cause.message}`);
  const detail = each.length === 1 ? each[0] : `[${each.join(', ')}]`;
  return new ClusterError(
    'Invalid',
    `${object.kind}${group ? `.${group}` : ''} "${object.metadata.name}" is invalid: ${detail}`,
    422,
    { causes },
  );
}
