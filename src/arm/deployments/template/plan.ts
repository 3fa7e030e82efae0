import { atPath, ExpressionError, isExpression } from './expression.js';
import { evaluateExpression, evaluateValue, setOwn } from './evaluate.js';
import type { FunctionScope } from './functions.js';
import { checkCount, copyCount, LIMITS, sized } from './limits.js';

/** Keys of a resource definition that steer the engine and are not sent to the RP [TPL-6]. */
export const TEMPLATE_ONLY_KEYS = [
  'type',
  'apiVersion',
  'name',
  'dependsOn',
  'copy',
  'condition',
  'comments',
  'resources',
  'scope',
  'existing',
  'metadata',
];
const ALLOWED_KEYS = new Set([
  ...TEMPLATE_ONLY_KEYS,
  'location',
  'tags',
  'sku',
  'kind',
  'identity',
  'plan',
  'zones',
  'extendedLocation',
  'managedBy',
  'properties',
]);

/** One resource instance to deploy (after nesting, copy loops and conditions). */
export interface PlannedResource {
  /** Index in the plan. */
  index: number;
  definition: Record<string, unknown>;
  type: string;
  name: string;
  id: string;
  apiVersion: string;
  /** Names of the copy loop and this instance's index in it. */
  loop?: { name: string; index: number; mode: 'parallel' | 'serial'; batchSize: number };
  /** copyIndex values visible to this instance (its loop and nothing else for resources). */
  copyContext: Record<string, number>;
  /** Raw dependsOn (evaluated strings) and the plan indices they resolve to. */
  dependsOn: number[];
  /** The parent definition's instance for nested resources. */
  parent?: number;
}

export interface PlanScope {
  base: FunctionScope;
  subscriptionId: string;
  resourceGroup: string;
}

function withCopy(base: FunctionScope, copy: Record<string, number>, current: string | undefined): FunctionScope {
  return {
    ...base,
    copyIndex(loop) {
      const name = loop ?? current;
      if (name === undefined || copy[name] === undefined)
        throw new ExpressionError(`copyIndex(${loop ? `'${loop}'` : ''}) is used outside of a copy loop`);
      return copy[name]!;
    },
  };
}

/** Expands the template's resources into instances and resolves `dependsOn` [TPL-5]. */
export function planResources(resources: unknown, scope: PlanScope): PlannedResource[] {
  if (!Array.isArray(resources))
    throw new ExpressionError(
      "'resources' must be an array (languageVersion 2.0 templates with symbolic names are not supported)",
    );
  const planned: PlannedResource[] = [];
  const pendingDepends: { instance: PlannedResource; raw: unknown[]; fnScope: FunctionScope }[] = [];

  const expand = (definitions: unknown[], parent: PlannedResource | undefined, path: string) => {
    // Errors name the resource definition they come from (TemplateViolation path) [TPL-9].
    definitions.forEach((raw, i) =>
      atPath(`${path}[${i}]`, () => {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw))
          throw new ExpressionError(`${path}[${i}] must be an object`);
        const definition = raw as Record<string, unknown>;
        for (const key of Object.keys(definition)) {
          if (!ALLOWED_KEYS.has(key))
            throw Object.assign(
              new ExpressionError(`${path}[${i}]: unknown member '${key}' in a resource definition`),
              { code: 'InvalidRequestContent' },
            );
        }
        for (const key of ['type', 'apiVersion', 'name'])
          if (typeof definition[key] !== 'string') throw new ExpressionError(`${path}[${i}] needs '${key}'`);
        const copy = definition.copy as
          { name?: string; count?: unknown; mode?: string; batchSize?: unknown } | undefined;
        const baseContext = parent?.copyContext ?? {};
        const baseScope = withCopy(scope.base, baseContext, undefined);
        let count = 1;
        if (copy) {
          if (typeof copy.name !== 'string') throw new ExpressionError(`${path}[${i}].copy needs a name`);
          count = copyCount(evaluateValue(copy.count, baseScope), `${path}[${i}]`);
        }
        for (let n = 0; n < count; n++) {
          const copyContext = copy ? { ...baseContext, [copy.name!]: n } : baseContext;
          const fnScope = withCopy(scope.base, copyContext, copy?.name);
          const condition = definition.condition === undefined ? true : evaluateValue(definition.condition, fnScope);
          if (condition === false || condition === 'false') continue;
          const ownType = String(evaluateValue(definition.type, fnScope));
          const ownName = String(evaluateValue(definition.name, fnScope));
          const type = parent ? `${parent.type}/${ownType}` : ownType;
          const name = parent ? `${parent.name}/${ownName}` : ownName;
          const [namespace, ...types] = type.split('/');
          const names = name.split('/');
          if (types.length === 0 || names.length !== types.length) {
            throw new ExpressionError(
              `${path}[${i}]: the name '${name}' must have one segment per type segment of '${type}'`,
            );
          }
          const id = `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup}/providers/${namespace}/${types.map((t, k) => `${t}/${names[k]}`).join('/')}`;
          const instance: PlannedResource = {
            index: planned.length,
            definition,
            type,
            name,
            id,
            apiVersion: String(evaluateValue(definition.apiVersion, fnScope)),
            loop: copy
              ? {
                  name: copy.name!,
                  index: n,
                  mode: String(copy.mode ?? 'parallel').toLowerCase() === 'serial' ? 'serial' : 'parallel',
                  batchSize: Number(copy.batchSize ?? 1) || 1,
                }
              : undefined,
            copyContext,
            dependsOn: [],
            parent: parent?.index,
          };
          planned.push(instance);
          checkCount('resources', planned.length, LIMITS.resources);
          pendingDepends.push({
            instance,
            raw: Array.isArray(definition.dependsOn) ? definition.dependsOn : [],
            fnScope,
          });
          if (Array.isArray(definition.resources)) expand(definition.resources, instance, `${path}[${i}].resources`);
        }
      }),
    );
  };
  expand(resources, undefined, 'resources');

  for (const { instance, raw, fnScope } of pendingDepends) {
    const edges = new Set<number>();
    for (const entry of raw) {
      const target = String(evaluateValue(entry, fnScope));
      const matched = resolveDependency(target, planned, resources as Record<string, unknown>[]);
      matched.forEach((m) => edges.add(m));
    }
    // A nested child waits for its parent (ARM leaves this to the author; the RP would refuse otherwise).
    if (instance.parent !== undefined) edges.add(instance.parent);
    // Implicit dependencies through reference() on template resources.
    for (const target of referencedTargets(instance.definition, fnScope))
      resolveDependency(target, planned, []).forEach((m) => edges.add(m));
    // Serial loops: each instance waits for the one batchSize before it.
    if (instance.loop?.mode === 'serial' && instance.loop.index >= instance.loop.batchSize) {
      const previous = planned.find(
        (p) => p.loop?.name === instance.loop!.name && p.loop.index === instance.loop!.index - instance.loop!.batchSize,
      );
      if (previous) edges.add(previous.index);
    }
    edges.delete(instance.index);
    instance.dependsOn = [...edges];
  }
  checkCycles(planned);
  return planned;
}

/** A dependsOn entry: a resource id, a name or `type/name`, or a copy loop's name. */
function resolveDependency(target: string, planned: PlannedResource[], _definitions: unknown[]): number[] {
  const t = target.toLowerCase();
  const byLoop = planned.filter((p) => p.loop?.name.toLowerCase() === t).map((p) => p.index);
  if (byLoop.length) return byLoop;
  const byId = planned
    .filter(
      (p) =>
        p.id.toLowerCase() === t ||
        p.id.toLowerCase().endsWith(`/providers/${t}`) ||
        p.id.toLowerCase().endsWith(t.startsWith('/') ? t : `/${t}`),
    )
    .map((p) => p.index);
  if (byId.length) return byId;
  const byName = planned
    .filter((p) => p.name.toLowerCase() === t || `${p.type}/${p.name}`.toLowerCase() === t)
    .map((p) => p.index);
  // Conditions may have dropped the target: ARM removes such entries from dependsOn.
  return byName;
}

/** Resource ids or names passed to reference() in a definition, found by evaluating each expression on its own. */
function referencedTargets(definition: Record<string, unknown>, scope: FunctionScope): string[] {
  const targets: string[] = [];
  const dryScope: FunctionScope = {
    ...scope,
    reference(target) {
      targets.push(target);
      throw new ExpressionError('dry run');
    },
  };
  const walk = (value: unknown) => {
    if (typeof value === 'string') {
      if (isExpression(value) && /reference\s*\(/i.test(value)) {
        try {
          evaluateExpression(value, dryScope);
        } catch {
          // only the recorded targets matter here
        }
      }
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  // A nested deployment's inner template is evaluated in its own scope: only its parameters are ours.
  if (String(definition.type).toLowerCase() === 'microsoft.resources/deployments') {
    walk((definition.properties as { parameters?: unknown } | undefined)?.parameters);
    return targets;
  }
  for (const key of Object.keys(definition))
    if (!['resources', 'dependsOn', 'copy', 'name', 'type', 'condition'].includes(key)) walk(definition[key]);
  return targets;
}

function checkCycles(planned: PlannedResource[]): void {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number, trail: number[]) => {
    if (state.get(i) === 'done') return;
    if (state.get(i) === 'visiting')
      throw new ExpressionError(`circular dependency: ${[...trail, i].map((k) => planned[k]!.name).join(' -> ')}`);
    state.set(i, 'visiting');
    for (const d of planned[i]!.dependsOn) visit(d, [...trail, i]);
    state.set(i, 'done');
  };
  planned.forEach((p) => visit(p.index, []));
}

/** Property-level copy: `properties.copy: [{name, count, input}]` builds array properties [TPL-5]. */
export function evaluateBody(value: unknown, scope: FunctionScope): unknown {
  if (typeof value === 'string' || value === null || typeof value !== 'object') return evaluateValue(value, scope);
  if (Array.isArray(value)) return value.map((v) => evaluateBody(v, scope));
  const object = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(object)) {
    if (key === 'copy' && Array.isArray(v)) {
      for (const loop of v as { name: string; count: unknown; input: unknown }[]) {
        const count = copyCount(evaluateValue(loop.count, scope), `'${String(loop.name)}'`);
        // Measured as the loop grows: 800 copies of a large value pass ARM's 4 MB long before the loop ends.
        let size = 0;
        const items = Array.from({ length: count }, (_, i) => {
          const item = evaluateBody(loop.input, {
            ...scope,
            copyIndex: (name) => {
              if (name === undefined || name.toLowerCase() === String(loop.name).toLowerCase()) return i;
              return scope.copyIndex(name);
            },
          });
          size += sized(item, LIMITS.expandedBytes - size, `The copy loop '${String(loop.name)}'`);
          return item;
        });
        setOwn(out, String(loop.name), items);
      }
      continue;
    }
    setOwn(out, key, evaluateBody(v, scope));
  }
  return out;
}
