// The JSON schema of the broker's config file (src/api/broker-config.ts), built from the spec's
// `*Properties` schemas: strict (an object takes only the properties the spec names), extensible enums
// closed (the broker knows its own values), the spec's defaults kept for ajv to fill in. `npm run specs`
// compiles it ahead of time for the broker (broker-config.validate.generated.ts); the operator checks
// each custom resource against its section at run time (specContracts).
import type { AuthenticationSpec, AuthorizationSpec, BrokerSpec, ListenerSpec } from './broker-config.js';
import { closeExtensibleEnums } from './closed-enums.js';
import { defineContract } from './contract-compile.js';
import { strictSchema, type Contract } from './contract.js';
import { flattenSchema } from './flatten.js';
import { loadOpenApi, type JsonSchema, type OpenApiDocument } from './openapi.js';

/** Spec schema names of each section (and of the custom resource kinds they come from). */
export const SECTION_SCHEMAS = {
  broker: 'BrokerProperties',
  listeners: 'BrokerListenerProperties',
  authentications: 'BrokerAuthenticationProperties',
  authorizations: 'BrokerAuthorizationProperties',
} as const;

const text = { type: 'string', minLength: 1 };
/** A directory per referenced name, or one root directory holding a directory per name. */
const mount = { anyOf: [text, { type: 'object', additionalProperties: text }] };

/** Largest remaining length MQTT can encode (four bytes of variable byte integer). */
const MQTT_MAX_PACKET_BYTES = 268_435_455;
/** 2^31 - 1: the longest Node timer (a longer one fires at once), and a safe ceiling for counts. */
const INT32_MAX = 2_147_483_647;

let committed: OpenApiDocument | undefined;
/**
 * The committed spec as the service enforces it (extensible enums closed: the broker knows its own
 * values), read once per process and only by a process that checks a config.
 */
const spec = () => (committed ??= closeExtensibleEnums(loadOpenApi()));

type Section = keyof typeof SECTION_SCHEMAS;

/** The schema of one section's `spec`: the spec's `*Properties`, strict, with iotmq's extensions. */
function specSchema(document: OpenApiDocument, section: Section): JsonSchema {
  const name = SECTION_SCHEMAS[section];
  const schema = strictSchema(
    flattenSchema(document, { $ref: `#/components/schemas/${name}` }, { dropReadOnly: true }),
  );
  // images and mode are the operator's business: the broker runs without them
  if (section === 'broker') delete schema.required;
  if (section === 'listeners')
    (schema.properties as Record<string, JsonSchema>).protocol = { type: 'string', enum: ['mqtt', 'websockets'] };
  return schema;
}

/** The file's JSON schema, built from the spec's `*Properties` schemas. */
export function brokerConfigSchema(document: OpenApiDocument = spec()): JsonSchema {
  const section = (name: Section) => specSchema(document, name);
  const named = (schema: JsonSchema) => ({
    type: 'object',
    required: ['name', 'spec'],
    additionalProperties: false,
    properties: { name: text, spec: schema },
  });
  return {
    type: 'object',
    required: ['broker', 'listeners'],
    additionalProperties: false,
    properties: {
      broker: named(section('broker')),
      listeners: { type: 'array', minItems: 1, items: named(section('listeners')) },
      authentications: { type: 'array', items: named(section('authentications')) },
      authorizations: { type: 'array', items: named(section('authorizations')) },
      mounts: { type: 'object', additionalProperties: false, properties: { secrets: mount, configMaps: mount } },
      dataDir: text,
      bindAddress: text,
      metricsPort: { type: 'integer', minimum: 0, maximum: 65535 },
      maxKeepAlive: { type: 'integer', minimum: 0, maximum: 65535 },
      // the broker's limits (defaults in extension/broker/broker.ts): no schema defaults, so that a
      // rendered config reads back unchanged
      maxConnectPacketBytes: { type: 'integer', minimum: 256, maximum: MQTT_MAX_PACKET_BYTES },
      maxSubscriberQueueBytes: { type: 'integer', minimum: 65536, maximum: INT32_MAX },
      maxSessionQueueMessages: { type: 'integer', minimum: 1, maximum: INT32_MAX },
      slowSubscriberGraceMs: { type: 'integer', minimum: 0, maximum: INT32_MAX },
      kubernetes: {
        type: 'object',
        required: ['tokenReviewUrl'],
        additionalProperties: false,
        properties: { tokenReviewUrl: text, caFile: text, tokenFile: text },
      },
    },
  };
}

/**
 * The check of one custom resource's spec against its section of the file, defaults filled in: the
 * operator holds each CR to it before rendering, so a CR the broker would refuse never reads Ready.
 */
export const specContracts: Record<Section, Contract<unknown>> = {
  broker: defineContract<BrokerSpec>('Broker spec', () => specSchema(spec(), 'broker'), { useDefaults: true }),
  listeners: defineContract<ListenerSpec>('BrokerListener spec', () => specSchema(spec(), 'listeners'), {
    useDefaults: true,
  }),
  authentications: defineContract<AuthenticationSpec>(
    'BrokerAuthentication spec',
    () => specSchema(spec(), 'authentications'),
    { useDefaults: true },
  ),
  authorizations: defineContract<AuthorizationSpec>(
    'BrokerAuthorization spec',
    () => specSchema(spec(), 'authorizations'),
    { useDefaults: true },
  ),
};
