// Extensible enums have two faces: open for clients (the emitted Swagger's `modelAsString`), closed
// for the service (the RP's validator and the CRDs). Both faces are derived from the same union in
// specs/*.tsp; these checks keep them that way. The RP's answer over HTTP is tested in
// test/integration/rp/extensible-enums.test.ts, the API server's in test/integration/kube.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { closeExtensibleEnums } from '../../../src/api/closed-enums.js';
import { crPlural } from '../../../src/api/custom-resources.js';
import { flattenSchema } from '../../../src/api/flatten.js';
import { API_VERSION, loadOpenApi, type JsonSchema } from '../../../src/api/openapi.js';
import { buildRegistry } from '../../../src/api/registry.js';
import { packageRoot } from '../../../src/common/paths.js';

const document = loadOpenApi();
const closed = closeExtensibleEnums(document);

/** Components that are extensible enums in the emitted OpenAPI 3: `anyOf` with a bare `string`. */
const extensible = Object.entries(document.components.schemas).filter(
  ([, schema]) =>
    Array.isArray(schema.anyOf) &&
    (schema.anyOf as JsonSchema[]).some((v) => v.type === 'string' && !v.enum && !v.$ref),
);

function knownValues(name: string): string[] {
  return flattenSchema(document, { $ref: `#/components/schemas/${name}` })['x-known-values'] as string[];
}

/** Every node of a JSON value that has the given key. */
function nodesWith(value: unknown, key: string): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => nodesWith(v, key));
  if (typeof value !== 'object' || value === null) return [];
  const own = key in value ? [value] : [];
  return [...own, ...Object.values(value).flatMap((v) => nodesWith(v, key))];
}

describe('extensible enums', () => {
  it('the API has them (BrokerMemoryProfile among them)', () => {
    expect(extensible.map(([name]) => name)).toContain('BrokerMemoryProfile');
  });

  it('stay open for clients: the emitted Swagger marks each of ours modelAsString', () => {
    const swagger = JSON.parse(
      readFileSync(path.join(packageRoot, 'specs/openapi', API_VERSION, 'iotoperationsmq.json'), 'utf8'),
    ) as { definitions: Record<string, JsonSchema & { 'x-ms-enum'?: { modelAsString?: boolean } }> };
    const ours = extensible.filter(([name]) => !name.startsWith('Azure.'));
    expect(ours.length).toBeGreaterThan(10);
    for (const [name] of ours) {
      const definition = swagger.definitions[name];
      expect(definition?.['x-ms-enum']?.modelAsString, name).toBe(true);
      expect(definition?.enum, name).toEqual(knownValues(name));
    }
  });

  it('are closed for the service: each becomes a string enum of its known values, no union is left', () => {
    for (const [name] of extensible) {
      const schema = closed.components.schemas[name]!;
      expect(schema, name).toMatchObject({ type: 'string', enum: knownValues(name) });
      expect(schema.description, name).toBe(document.components.schemas[name]!.description);
    }
    expect(nodesWith(closed.components, 'anyOf')).toEqual([]);
    expect(closed.paths).toBe(document.paths);
    expect(document.components.schemas.BrokerMemoryProfile!.anyOf, 'the input document is not changed').toBeDefined();
  });

  it('templates (bicep/) offer only known values for a parameter named like an enum property', () => {
    const knownByProperty = new Map<string, string[]>();
    const collect = (schema: JsonSchema) => {
      for (const [name, property] of Object.entries((schema.properties as Record<string, JsonSchema>) ?? {})) {
        const known = property['x-known-values'] as string[] | undefined;
        if (known) knownByProperty.set(name, known);
        collect(property);
      }
      if (schema.items) collect(schema.items as JsonSchema);
    };
    for (const type of buildRegistry(document).types)
      collect(flattenSchema(document, { $ref: `#/components/schemas/${type.schemas.properties}` }));
    const templates = ['bicep', 'bicep/modules'].flatMap((dir) =>
      readdirSync(path.join(packageRoot, dir))
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join(packageRoot, dir, f)),
    );
    let checked = 0;
    for (const file of templates) {
      const parameters = nodesWith(JSON.parse(readFileSync(file, 'utf8')), 'parameters').flatMap((node) =>
        Object.entries((node as { parameters: Record<string, { allowedValues?: unknown }> }).parameters),
      );
      for (const [name, declaration] of parameters) {
        const known = knownByProperty.get(name);
        if (!known || !Array.isArray(declaration?.allowedValues)) continue;
        for (const value of declaration.allowedValues) expect(known, `${file}: ${name}`).toContain(value);
        checked++;
      }
    }
    expect(checked, 'memoryProfile in main.json and modules/broker.json').toBeGreaterThanOrEqual(2);
  });

  it('are closed in the CRDs: the API server refuses what the RP refuses', () => {
    let checked = 0;
    for (const type of buildRegistry(document).types) {
      if (!type.crKind) continue;
      const crd = parse(
        readFileSync(path.join(packageRoot, 'extension/chart/crds', `${crPlural(type.crKind)}.yaml`), 'utf8'),
      ) as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: JsonSchema } } } }[] } };
      const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
      const open = flattenSchema(document, document.components.schemas[type.schemas.properties]!, {
        dropReadOnly: true,
      });
      const walk = (api: JsonSchema, cr: JsonSchema | undefined, at: string) => {
        expect(cr, at).toBeDefined();
        const known = api['x-known-values'];
        if (known) {
          expect(cr!.enum, at).toEqual(known);
          checked++;
        }
        for (const [name, property] of Object.entries((api.properties as Record<string, JsonSchema>) ?? {}))
          walk(property, (cr!.properties as Record<string, JsonSchema>)[name], `${at}.${name}`);
        if (api.items) walk(api.items as JsonSchema, cr!.items as JsonSchema, `${at}[]`);
      };
      walk(open, spec, `${type.crKind}.spec`);
    }
    expect(checked).toBeGreaterThan(10);
  });
});
