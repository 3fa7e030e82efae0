import { stringify } from 'yaml';
import { CR_GROUP, CR_VERSION, crdName, crPlural } from '../../src/api/custom-resources.js';
import { closeExtensibleEnums } from '../../src/api/closed-enums.js';
import { flattenSchema } from '../../src/api/flatten.js';
import type { JsonSchema, OpenApiDocument } from '../../src/api/openapi.js';
import type { ResourceType, ResourceTypeRegistry } from '../../src/api/registry.js';

/** Keys of apiextensions.k8s.io/v1 JSONSchemaProps that we carry over from the API's schemas. */
const STRUCTURAL_KEYS = new Set([
  'type',
  'format',
  'description',
  'properties',
  'required',
  'items',
  'enum',
  'default',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'additionalProperties',
  'nullable',
]);

/** Formats the Kubernetes API server validates; others (e.g. Azure's `arm-id`) are left out. */
const KUBERNETES_FORMATS = new Set([
  'int32',
  'int64',
  'float',
  'double',
  'byte',
  'date',
  'date-time',
  'duration',
  'uri',
  'uuid',
  'hostname',
  'ipv4',
  'ipv6',
  'email',
  'password',
]);

/** Extra printer columns per kind, besides Ready, Reason and Age. */
const PRINTER_COLUMNS: Record<string, { name: string; type: string; jsonPath: string }[]> = {
  Broker: [
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
    { name: 'Memory', type: 'string', jsonPath: '.spec.memoryProfile' },
  ],
  BrokerListener: [
    { name: 'Broker', type: 'string', jsonPath: '.spec.brokerRef' },
    { name: 'Port', type: 'integer', jsonPath: '.spec.port' },
    { name: 'Service', type: 'string', jsonPath: '.spec.serviceType' },
  ],
};

const CONDITION_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', description: 'Condition type, e.g. Ready.' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      description: 'The generation this condition was computed from.',
    },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', description: 'PascalCase reason for the last transition.' },
    message: { type: 'string', description: 'What happened, for people.' },
    // The agent reads it (extension/agent/custom-resource.ts statusOf): Error on a False Ready is terminal.
    severity: {
      type: 'string',
      enum: ['Error', 'Warning', 'Info'],
      description:
        'How bad a False condition is: Error is terminal until the resource changes; anything else is progress.',
    },
  },
};

const STATUS_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Observed state, written by the operator.',
  properties: {
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      description: 'The spec generation the operator last reconciled.',
    },
    conditions: {
      type: 'array',
      items: CONDITION_SCHEMA,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
  },
};

/** One CustomResourceDefinition per kind, as YAML text keyed by file name. */
export function buildCrds(document: OpenApiDocument, registry: ResourceTypeRegistry): Map<string, string> {
  // The API server refuses what the RP refuses: extensible enums closed to the values this version knows.
  const closed = closeExtensibleEnums(document);
  const files = new Map<string, string>();
  for (const type of registry.types) {
    if (!type.crKind) continue;
    files.set(`${crPlural(type.crKind)}.yaml`, stringify(buildCrd(closed, type, type.crKind), { lineWidth: 0 }));
  }
  return files;
}

function buildCrd(document: OpenApiDocument, type: ResourceType, kind: string): JsonSchema {
  const properties = document.components.schemas[type.schemas.properties]!;
  const spec = structural(flattenSchema(document, properties, { dropReadOnly: true }));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName(kind), labels: { 'app.kubernetes.io/part-of': 'iotmq' } },
    spec: {
      group: CR_GROUP,
      names: { kind, listKind: `${kind}List`, plural: crPlural(kind), singular: kind.toLowerCase() },
      scope: 'Namespaced',
      versions: [
        {
          name: CR_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            ...(PRINTER_COLUMNS[kind] ?? []),
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `${kind} of Azure IoT MQ (${type.armType}); spec holds the ARM resource's properties.`,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status: STATUS_SCHEMA,
              },
            },
          },
        },
      ],
    },
  };
}

/** Reduces a flattened schema to the structural subset the Kubernetes API server accepts. */
export function structural(schema: JsonSchema): JsonSchema {
  const result: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!STRUCTURAL_KEYS.has(key)) continue;
    if (key === 'format' && !KUBERNETES_FORMATS.has(value as string)) continue;
    result[key] = value;
  }
  if (schema.properties) {
    result.properties = Object.fromEntries(
      Object.entries(schema.properties as Record<string, JsonSchema>).map(([k, v]) => [k, structural(v)]),
    );
  }
  if (schema.items) result.items = structural(schema.items as JsonSchema);
  if (typeof schema.additionalProperties === 'object')
    result.additionalProperties = structural(schema.additionalProperties as JsonSchema);
  else delete result.additionalProperties;
  if (result.type === 'object' && !result.properties && !result.additionalProperties) {
    result['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (result.type === undefined)
    throw new Error(`schema without a type cannot be structural: ${JSON.stringify(schema).slice(0, 200)}`);
  return result;
}
