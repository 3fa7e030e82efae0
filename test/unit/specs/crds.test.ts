// The CustomResourceDefinitions generated from the API must be structural
// (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema),
// or the API server refuses them. A real API server loads them in test/integration/kube.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CR_GROUP, CR_VERSION, crdName } from '../../../src/api/custom-resources.js';
import { buildRegistry } from '../../../src/api/registry.js';
import { packageRoot } from '../../../src/common/paths.js';

const crdsDir = path.join(packageRoot, 'extension/chart/crds');
type Schema = Record<string, unknown>;

/** Every rule of a structural schema that a walk can check, as `path: problem` strings. */
function structuralProblems(schema: Schema, at: string, isRoot = false): string[] {
  const problems: string[] = [];
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  if (!schema.type && !preserve && !intOrString) problems.push(`${at}: no type`);
  for (const key of [
    '$ref',
    'allOf',
    'anyOf',
    'oneOf',
    'not',
    'definitions',
    'dependencies',
    'additionalItems',
    'patternProperties',
    'readOnly',
    'x-known-values',
  ]) {
    if (key in schema) problems.push(`${at}: ${key} is not allowed`);
  }
  if (schema.properties && schema.additionalProperties)
    problems.push(`${at}: properties and additionalProperties together`);
  if (schema.type === 'array' && !schema.items) problems.push(`${at}: array without items`);
  if (
    schema.type === 'object' &&
    !schema.properties &&
    !schema.additionalProperties &&
    !preserve &&
    !(at.endsWith('.metadata') && isRoot === false)
  ) {
    problems.push(`${at}: object without properties, additionalProperties or preserve-unknown-fields`);
  }
  if (schema.default !== undefined && isRoot) problems.push(`${at}: default at the root`);
  for (const [name, property] of Object.entries((schema.properties as Record<string, Schema>) ?? {})) {
    problems.push(...structuralProblems(property, `${at}.${name}`));
  }
  if (schema.items) problems.push(...structuralProblems(schema.items as Schema, `${at}[]`));
  if (typeof schema.additionalProperties === 'object')
    problems.push(...structuralProblems(schema.additionalProperties as Schema, `${at}{}`));
  return problems;
}

describe('CustomResourceDefinitions', () => {
  const kinds = buildRegistry().types.flatMap((t) => (t.crKind ? [t.crKind] : []));
  const files = readdirSync(crdsDir).filter((f) => f.endsWith('.yaml'));

  it('exist for every kind of the API and nothing else', () => {
    expect(kinds.length).toBeGreaterThan(0);
    expect(files.sort()).toEqual(kinds.map((k) => `${crdName(k).split('.')[0]}.yaml`).sort());
  });

  for (const file of files) {
    it(`${file} is a structural v1 CRD with a status subresource and printer columns`, () => {
      const crd = parse(readFileSync(path.join(crdsDir, file), 'utf8')) as Schema & {
        spec: { group: string; names: { kind: string }; versions: Schema[] };
      };
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.spec.group).toBe(CR_GROUP);
      expect(crd.metadata).toMatchObject({ name: crdName(crd.spec.names.kind) });
      expect(crd.spec.versions).toHaveLength(1);
      const version = crd.spec.versions[0]! as {
        name: string;
        subresources: Schema;
        additionalPrinterColumns: Schema[];
        schema: { openAPIV3Schema: Schema };
      };
      expect(version.name).toBe(CR_VERSION);
      expect(version.subresources).toEqual({ status: {} });
      expect(version.additionalPrinterColumns.map((c) => c.name)).toEqual(expect.arrayContaining(['Ready', 'Age']));
      const root = version.schema.openAPIV3Schema;
      // metadata may only be a bare object at the root: the API server owns its schema.
      const { metadata, ...rest } = root.properties as Record<string, Schema>;
      expect(metadata).toEqual({ type: 'object' });
      expect(structuralProblems({ ...root, properties: rest }, kinds.length ? file : '', true)).toEqual([]);
    });
  }
});
