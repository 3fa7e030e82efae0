// A seeded template fuzzer for the deployment engine, shared by the seeded run in npm test
// (deployments-fuzz.test.ts) and the benchmark-style run (bench/fuzz-templates.ts). It mutates real
// templates (bicep/main.json and its modules, and a small template with outputs): random
// expressions of every built-in function with odd arguments, deep nesting, odd copy counts, wrong
// parameter values, broken text. Each case goes through the front door over HTTPS — mostly as
// POST …/validate (the engine's whole validation and planning), some as a real PUT that runs to a
// terminal state — and must answer in ARM's shape: never a 5xx, never a lost connection (a crash),
// never a deployment that does not end (a hang).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FUNCTIONS } from '../../../src/arm/deployments/template/index.js';
import { seededRandom } from '../../support/random.js';
import { awaitDeployment, DEPLOY_API, deploymentPath } from './deploy-client.js';
import type { ArmHarness, HttpResult } from './harness.js';

const root = path.resolve(import.meta.dirname, '../../..');

export interface FuzzCase {
  seed: number;
  kind: 'validate' | 'deploy';
  /** The request body: an object, or text (broken JSON, deep nesting). */
  body: unknown;
  mutations: string[];
}

export interface FuzzFinding {
  seed: number;
  mutations: string[];
  problem: string;
}

type Seed = { template: Record<string, unknown>; parameters: Record<string, unknown> };
let seeds: Seed[] | undefined;

/** The templates mutated: Bicep's compiled output and a small one that reaches outputs. */
export function seedTemplates(): Seed[] {
  return (seeds ??= readSeeds());
}

function readSeeds(): Seed[] {
  const modules = readdirSync(path.join(root, 'bicep/modules'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const template = readJson(`bicep/modules/${f}`);
      return { template, parameters: requiredParameters(template) };
    });
  return [
    {
      template: readJson('bicep/main.json'),
      parameters: { customLocationName: { value: 'local-cl' }, customLocationResourceGroup: { value: 'iotmq-local' } },
    },
    ...modules,
    {
      template: {
        $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
        contentVersion: '1.0.0.0',
        parameters: {
          name: { type: 'string', defaultValue: 'fuzz' },
          count: { type: 'int', defaultValue: 2 },
          secret: { type: 'secureString', defaultValue: 'fuzz-secret-value' },
          tags: { type: 'object', defaultValue: { a: 1, b: [1, 2] } },
        },
        variables: { prefix: "[toLower(parameters('name'))]", list: "[range(0, parameters('count'))]" },
        resources: [],
        outputs: {
          joined: { type: 'string', value: "[concat(variables('prefix'), '-', string(variables('list')))]" },
          loop: { type: 'array', copy: { count: "[parameters('count')]", input: '[copyIndex()]' } },
        },
      },
      parameters: {},
    },
  ];
}

/** Plain values for a module's parameters that have no default, so that its cases get past binding. */
function requiredParameters(template: Record<string, unknown>): Record<string, unknown> {
  const declared = (template.parameters ?? {}) as Record<string, { type?: string; defaultValue?: unknown }>;
  return Object.fromEntries(
    Object.entries(declared)
      .filter(([, d]) => !('defaultValue' in d))
      .map(([name, d]) => {
        const type = String(d.type).toLowerCase();
        const value =
          type === 'array' ? [] : type === 'object' ? {} : type === 'int' ? 1 : type === 'bool' ? true : `fuzz-${name}`;
        return [name, { value }];
      }),
  );
}

const readJson = (file: string) => JSON.parse(readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown>;

const NAMES = [...Object.keys(FUNCTIONS), 'nosuchfunction', 'parameters', 'variables', 'reference', 'list'];

/** One random expression (without the brackets), nested up to `depth`. */
function expression(random: () => number, depth: number, names: { parameters: string[]; variables: string[] }): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const r = random();
  if (depth <= 0 || r < 0.25) {
    return pick([
      () => String(Math.floor(random() * 20) - 5),
      () => pick(['0', '-1', '2147483647', '2147483648', '10000', '10001', '99999999999', '1.5', '-0']),
      () =>
        `'${pick(['', 'a', "it''s", '[x]', '{0}', '{0:D9}', 'ÿ😀', 'a,b,c', '/subscriptions/x', '%zz', 'eyJ4IjoxfQ=='])}'`,
      () => `'${'x'.repeat(Math.floor(random() * 50))}'`,
      () => `parameters('${pick([...names.parameters, 'missing'])}')`,
      () => `variables('${pick([...names.variables, 'missing'])}')`,
      () => pick(['true()', 'false()', 'null()', 'resourceGroup()', 'subscription()', 'deployment()', 'copyIndex()']),
    ])();
  }
  if (r < 0.3) return `${expression(random, depth - 1, names)}.${pick(['name', 'id', 'properties', 'x', 'length'])}`;
  if (r < 0.35) return `${expression(random, depth - 1, names)}[${expression(random, depth - 1, names)}]`;
  const args = Array.from({ length: Math.floor(random() * 4) }, () => expression(random, depth - 1, names));
  return `${pick(NAMES)}(${args.join(', ')})`;
}

/** A random value for a template: mostly expressions, sometimes odd literals or deep nesting. */
function value(random: () => number, names: { parameters: string[]; variables: string[] }): unknown {
  const r = random();
  if (r < 0.7) return `[${expression(random, 1 + Math.floor(random() * 5), names)}]`;
  if (r < 0.75) return `[${expression(random, 3, names)}`; // unterminated
  if (r < 0.8) return `[${'not('.repeat(Math.floor(random() * 300))}true()${')'.repeat(Math.floor(random() * 300))}]`;
  if (r < 0.85) {
    let nested: unknown = 1;
    for (let i = Math.floor(random() * 200); i > 0; i--) nested = random() < 0.5 ? [nested] : { a: nested };
    return nested;
  }
  if (r < 0.9) return [-1, 0, 801, 1e9, 'abc', null, {}, [], '[[literal]'][Math.floor(random() * 9)];
  return `[range(0, ${[10, 800, 10000, 10001, 1e8][Math.floor(random() * 5)]})]`;
}

/** `parent[key]` as an object, made one if an earlier mutation put something else there. */
function objectIn(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const current = parent[key];
  if (current && typeof current === 'object' && !Array.isArray(current)) return current as Record<string, unknown>;
  return (parent[key] = {});
}

/** Every object and array inside `root` with its key, for picking a place to mutate. */
function places(node: unknown, out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = []) {
  if (Array.isArray(node))
    node.forEach((item, i) => {
      out.push({ parent: node, key: i });
      places(item, out);
    });
  else if (node && typeof node === 'object')
    for (const [key, item] of Object.entries(node)) {
      out.push({ parent: node as Record<string, unknown>, key });
      places(item, out);
    }
  return out;
}

/** Case `seed` of the run: deterministic, so a finding replays from its seed alone. */
export function generateCase(seed: number): FuzzCase {
  const random = seededRandom(seed);
  const seeds = seedTemplates();
  const base = structuredClone(seeds[Math.floor(random() * seeds.length)]!);
  const template = base.template;
  const names = {
    parameters: Object.keys((template.parameters ?? {}) as object),
    variables: Object.keys((template.variables ?? {}) as object),
  };
  const mutations: string[] = [];
  let parameters: Record<string, unknown> = base.parameters;
  for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
    const r = random();
    if (r < 0.35) {
      const all = places(template);
      const at = all[Math.floor(random() * all.length)];
      if (!at) continue;
      const v = value(random, names);
      (at.parent as Record<string, unknown>)[at.key as string] = v;
      mutations.push(`replace ${String(at.key)}`);
    } else if (r < 0.55) {
      const outputs = objectIn(template, 'outputs');
      outputs[`fuzz${Math.floor(random() * 5)}`] = {
        type: ['string', 'int', 'array', 'object', 'bool', 'secureString', 'weird'][Math.floor(random() * 7)],
        ...(random() < 0.2
          ? { copy: { count: value(random, names), input: value(random, names) } }
          : { value: value(random, names) }),
      };
      mutations.push('output');
    } else if (r < 0.7) {
      const variables = objectIn(template, 'variables');
      variables[`fuzz${Math.floor(random() * 5)}`] = value(random, names);
      mutations.push('variable');
    } else if (r < 0.8) {
      const resources = template.resources as unknown[] | undefined;
      const resource = Array.isArray(resources) ? resources[Math.floor(random() * resources.length)] : undefined;
      if (resource && typeof resource === 'object')
        (resource as Record<string, unknown>).copy = { name: 'fuzz', count: value(random, names) };
      mutations.push('copy');
    } else if (r < 0.9) {
      parameters = Object.fromEntries(
        names.parameters.map((p) => [p, random() < 0.5 ? { value: value(random, names) } : { value: 'x' }]),
      );
      mutations.push('parameters');
    } else {
      mutations.push('text');
    }
  }
  const body = { properties: { mode: 'Incremental', template, parameters } };
  if (mutations.includes('text')) {
    // Broken text: cut, duplicated braces, or a template nested far deeper than any parser allows.
    const text = JSON.stringify(body);
    const r = random();
    const broken =
      r < 0.4
        ? text.slice(0, Math.floor(random() * text.length))
        : r < 0.7
          ? text.replace('"resources"', `"deep":${'['.repeat(5000)}${']'.repeat(5000)},"resources"`)
          : text.replace(/:/g, () => (random() < 0.01 ? '::' : ':'));
    return { seed, kind: 'validate', body: broken, mutations };
  }
  return { seed, kind: random() < 0.1 ? 'deploy' : 'validate', body, mutations };
}

/**
 * Runs one case against the front door; a finding when the answer breaks the contract. A deployment
 * that is accepted must end within `deadlineMs` (the engine's budget is 10 s of evaluation).
 */
export async function runCase(
  arm: ArmHarness,
  group: string,
  c: FuzzCase,
  outcome: (label: string) => void = () => undefined,
  deadlineMs = 60_000,
): Promise<FuzzFinding | undefined> {
  const name = `fuzz-${c.seed}`;
  const finding = (problem: string) => ({ seed: c.seed, mutations: c.mutations, problem });
  let response: HttpResult;
  try {
    response = await withDeadline(
      c.kind === 'validate'
        ? arm.call('POST', `${deploymentPath(arm, group, name)}/validate?${DEPLOY_API}`, c.body)
        : arm.call('PUT', `${deploymentPath(arm, group, name)}?${DEPLOY_API}`, c.body),
      deadlineMs,
    );
  } catch (error) {
    return finding(`no answer: ${(error as Error).message}`);
  }
  outcome(
    `${c.kind} ${response.status} ${response.body?.error?.details?.[0]?.code ?? response.body?.error?.code ?? ''}`.trim(),
  );
  if (response.status >= 500) return finding(`${response.status}: ${response.text.slice(0, 300)}`);
  if (response.text.includes('fuzz-secret-value')) return finding('a secure value is printed');
  if (response.status >= 400 && typeof response.body?.error?.code !== 'string')
    return finding(`${response.status} without an ARM error: ${response.text.slice(0, 300)}`);
  if (c.kind === 'deploy' && response.status < 300) {
    try {
      const result = await withDeadline(
        awaitDeployment(arm, group, name, new URL(response.headers['azure-asyncoperation'] as string)),
        deadlineMs,
      );
      const state = result?.properties?.provisioningState;
      outcome(`deployment ${String(state)} ${result?.properties?.error?.code ?? ''}`.trim());
      if (!['Succeeded', 'Failed'].includes(state)) return finding(`ended ${String(state)}`);
      if (state === 'Failed' && typeof result.properties.error?.code !== 'string')
        return finding(`Failed without an ARM error: ${JSON.stringify(result.properties).slice(0, 300)}`);
      if (JSON.stringify(result).includes('fuzz-secret-value')) return finding('a secure value is printed');
    } catch (error) {
      return finding(`deployment did not end: ${(error as Error).message}`);
    }
  }
  return undefined;
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms (a hang)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs cases `first`..`first + count - 1`, `concurrency` at a time; the findings, in seed order. */
export async function fuzzTemplates(
  arm: ArmHarness,
  group: string,
  first: number,
  count: number,
  concurrency = 4,
  progress?: (done: number, findings: FuzzFinding[]) => void,
  outcomes: Record<string, number> = {},
): Promise<FuzzFinding[]> {
  const findings: FuzzFinding[] = [];
  let next = first;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < first + count) {
        const found = await runCase(arm, group, generateCase(next++), (label) => {
          outcomes[label] = (outcomes[label] ?? 0) + 1;
        });
        if (found) findings.push(found);
        progress?.(++done, findings);
      }
    }),
  );
  return findings.sort((a, b) => a.seed - b.seed);
}
