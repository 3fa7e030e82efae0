// Extensible enums: the Swagger marks them `x-ms-enum.modelAsString` so that *clients* keep working
// when a later service version adds a value. The service itself knows the values of its version and
// refuses any other with 400 InvalidRequestProperties, the property's path as `target` — over HTTP,
// for every extensible enum property of every resource type, starting from our own examples.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flattenSchema } from '../../../src/api/flatten.js';
import { API_VERSION, loadOpenApi, type JsonSchema } from '../../../src/api/openapi.js';
import { buildRegistry, type ResourceType } from '../../../src/api/registry.js';
import { packageRoot } from '../../../src/common/paths.js';
import { API, CUSTOM_LOCATION, registerSubscription, rg, startRp, type RpHarness } from './harness.js';

type Json = Record<string, unknown>;

/** A property path into a resource body; `[]` stands for "the first element of this array". */
type Path = string[];

interface EnumProperty {
  type: ResourceType;
  path: Path;
  /** The path as ARM reports it in `target` (`properties.routes[0].direction`). */
  target: string;
  known: string[];
}

const document = loadOpenApi();
const registry = buildRegistry(document);
const examplesDir = path.join(packageRoot, 'specs/examples', API_VERSION);

/** Extensible enums as clients see them: the open (flattened) schema keeps their values in `x-known-values`. */
function extensibleEnums(type: ResourceType): EnumProperty[] {
  const found: EnumProperty[] = [];
  const walk = (schema: JsonSchema, at: Path) => {
    if (schema.readOnly === true) return; // the RP ignores what a client cannot set
    const known = schema['x-known-values'] as string[] | undefined;
    if (known) found.push({ type, path: at, target: targetOf(at), known });
    for (const [name, property] of Object.entries((schema.properties as Record<string, JsonSchema>) ?? {}))
      walk(property, [...at, name]);
    if (schema.items) walk(schema.items as JsonSchema, [...at, '[]']);
  };
  walk(flattenSchema(document, { $ref: `#/components/schemas/${type.schemas.resource}` }), []);
  return found;
}

function targetOf(at: Path): string {
  return at.map((part, i) => (part === '[]' ? '[0]' : i === 0 ? part : `.${part}`)).join('');
}

/** The PUT body of the type's CreateOrUpdate example, placed on the harness's custom location. */
function example(type: ResourceType): { names: string[]; body: Json } {
  const file = path.join(examplesDir, `${type.operations.createOrUpdate}.json`);
  const parameters = (JSON.parse(readFileSync(file, 'utf8')) as { parameters: Json }).parameters;
  const resource = parameters.resource as Json;
  return {
    names: type.nameParameters.map((p) => parameters[p] as string),
    body: { ...resource, extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' } },
  };
}

/**
 * The examples show one choice where the API offers several; these variants set the other choices
 * that hold an extensible enum, so that every enum property has a body to be tested in.
 */
const VARIANTS: Record<string, (properties: Json) => void> = {
  KafkaConnector: (properties) => {
    const kafka = properties.kafkaConnection as Json;
    kafka.authentication = {
      enabled: true,
      authType: { sasl: { saslType: 'scramSha512', token: { secretName: 'kafka-sasl' } } },
    };
  },
  DataLakeConnector: (properties) => {
    properties.target = {
      fabricOneLake: {
        endpoint: 'https://onelake.dfs.fabric.microsoft.com',
        fabricPath: 'tables',
        names: { workspaceName: 'plant', lakehouseName: 'telemetry' },
        authentication: { systemAssignedManagedIdentity: { audience: 'https://storage.azure.com' } },
      },
    };
  },
};

function candidates(type: ResourceType): Json[] {
  const base = example(type).body;
  const variant = VARIANTS[type.tag];
  if (!variant) return [base];
  const varied = structuredClone(base);
  variant(varied.properties as Json);
  return [base, varied];
}

/** The parent object of `at` in `body`, and the key to set; undefined when the body does not reach it. */
function slot(body: unknown, at: Path): { parent: Json | unknown[]; key: string | number } | undefined {
  let node = body;
  for (let i = 0; i < at.length - 1; i++) {
    const part = at[i]!;
    node = part === '[]' ? (Array.isArray(node) ? node[0] : undefined) : (node as Json | undefined)?.[part];
    if (typeof node !== 'object' || node === null) return undefined;
  }
  const last = at.at(-1)!;
  if (last === '[]') return Array.isArray(node) && node.length > 0 ? { parent: node, key: 0 } : undefined;
  return { parent: node as Json, key: last };
}

/** A body from the examples (or a variant) with the enum property set to `value`. */
function bodyWith(property: EnumProperty, value: string): Json | undefined {
  for (const candidate of candidates(property.type)) {
    const body = structuredClone(candidate);
    const at = slot(body, property.path);
    if (!at) continue;
    (at.parent as Record<string | number, unknown>)[at.key] = value;
    return body;
  }
  return undefined;
}

const properties = registry.types.flatMap(extensibleEnums);
let rp: RpHarness;
let counter = 0;

/** A resource id under the example's parents, with a fresh last name so that no operation is in flight. */
function freshId(type: ResourceType): string {
  const { names } = example(type);
  const segments = type.segments.flatMap((segment, i) => [
    segment,
    i === type.segments.length - 1 ? `enum-${++counter}` : names[i]!,
  ]);
  return `${rg()}/${segments.join('/')}`;
}

function exampleId(type: ResourceType): string {
  const { names } = example(type);
  return `${rg()}/${type.segments.flatMap((segment, i) => [segment, names[i]!]).join('/')}`;
}

beforeAll(async () => {
  rp = await startRp();
  await registerSubscription(rp);
});
afterAll(() => rp?.close());

describe('extensible enums', () => {
  it('are found in the API (the walk below is not empty)', () => {
    const targets = properties.map((p) => `${p.type.tag} ${p.target}`);
    expect(targets).toContain('Broker properties.memoryProfile');
    expect(targets).toContain('MqttBridgeTopicMap properties.routes[0].direction');
    expect(targets).toContain('Mq extendedLocation.type');
  });

  it('every example is accepted as it is (parents first)', async () => {
    for (const type of registry.types) {
      const response = await rp.call('PUT', `${exampleId(type)}?${API}`, example(type).body);
      expect([200, 201], `${type.tag}: ${JSON.stringify(response.body)}`).toContain(response.status);
    }
  });

  describe.each(properties.map((p) => [`${p.type.tag} ${p.target}`, p] as const))('%s', (_name, property) => {
    it('has a body in the examples or their variants', () => {
      expect(bodyWith(property, 'x'), `add a variant to VARIANTS that sets ${property.target}`).toBeDefined();
    });

    it('400 InvalidRequestProperties with the path as target for an unknown value (PUT)', async () => {
      const body = bodyWith(property, 'gigantic');
      if (!body) return; // reported by the test above
      const response = await rp.call('PUT', `${freshId(property.type)}?${API}`, body);
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.error.code).toBe('InvalidRequestProperties');
      expect(response.body.error.target).toBe(property.target);
      expect(response.body.error.message).toContain(property.known.join(', '));
    });

    it('accepts each known value', async () => {
      for (const value of property.known) {
        const body = bodyWith(property, value);
        if (!body) return;
        const response = await rp.call('PUT', `${freshId(property.type)}?${API}`, body);
        expect(response.status, `${value}: ${JSON.stringify(response.body)}`).toBe(201);
      }
    });
  });

  it('PATCH refuses an unknown value the same way', async () => {
    const broker = registry.byTag('Broker');
    const response = await rp.call(
      'PATCH',
      `${exampleId(broker)}?${API}`,
      { properties: { memoryProfile: 'gigantic' } },
      { 'content-type': 'application/merge-patch+json' },
    );
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body.error.code).toBe('InvalidRequestProperties');
    expect(response.body.error.target).toBe('properties.memoryProfile');
  });
});
