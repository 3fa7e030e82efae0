import { createHash } from 'node:crypto';
import { evaluateValue } from './evaluate.js';
import { ExpressionError, isExpression, parseExpression } from './expression.js';
import type { FunctionScope } from './functions.js';
import { parseJsonc } from './jsonc.js';
import { checkCount, copyCount, LIMITS, measure, sized } from './limits.js';
import { normaliseType, resolveParameters, type ResolvedParameter } from './parameters.js';
import { evaluateBody, planResources, TEMPLATE_ONLY_KEYS, type PlannedResource } from './plan.js';
import { Secrets } from './secrets.js';

/**
 * A deployment's template from request to values, with no I/O: what the evaluator thread runs
 * (evaluator-worker.ts). `prepareTemplate` validates and plans (PUT and validate); the resource
 * bodies, a nested deployment's inputs and the outputs are evaluated later, given the states of the
 * resources deployed so far (what `reference()` reads).
 */

/** What a template's scope functions (resourceGroup(), subscription(), environment()) read. */
export interface DeploymentContext {
  subscription: { id: string; tenantId: string; displayName: string };
  group: { name: string; location: string; tags?: Record<string, string>; managedBy?: string };
  environment: Record<string, unknown>;
}

export interface TemplateInput {
  name: string;
  context: DeploymentContext;
  /** The template (object) or its raw text (JSON with comments). */
  template: unknown;
  parameters: Record<string, { value?: unknown; reference?: unknown }>;
  mode: string;
}

/** One resource instance as the engine needs it (nothing of the template's own text). */
export interface PlanEntry {
  index: number;
  id: string;
  type: string;
  name: string;
  apiVersion: string;
  dependsOn: number[];
  nested: boolean;
  /** Resources outside the template its properties read with `reference('<id>', '<api-version>')`. */
  prefetch: { id: string; apiVersion?: string }[];
}

export interface PreparedTemplate {
  input: TemplateInput;
  template: Record<string, unknown>;
  parameters: Record<string, ResolvedParameter>;
  planned: PlannedResource[];
  plan: PlanEntry[];
  scope: FunctionScope;
  /** The deployment's properties shared by PUT, GET and validate (secrets redacted). */
  summary: Record<string, unknown>;
  secrets: Secrets;
}

/** States of deployed resources by lower-cased id: what `reference()` reads. */
export type States = Map<string, Record<string, unknown>>;

const DEPLOYMENTS = 'microsoft.resources/deployments';

export function prepareTemplate(input: TemplateInput, secrets = new Secrets()): PreparedTemplate {
  const template = (typeof input.template === 'string' ? parseJsonc(input.template) : input.template) as Record<
    string,
    unknown
  >;
  if (!template || typeof template !== 'object' || Array.isArray(template))
    throw new ExpressionError("'template' must be an object");
  // A template object (not text) reaches here from a parent's parsed body or a nested one: bounded already,
  // but the depth check is cheap and keeps every later walk within the stack.
  try {
    measure(template, Number.POSITIVE_INFINITY);
  } catch {
    throw new ExpressionError(`The template is nested deeper than ${LIMITS.jsonDepth} levels.`);
  }
  if (template.languageVersion !== undefined) {
    throw new ExpressionError(
      `languageVersion '${String(template.languageVersion)}' (symbolic resource names) is not supported by this engine; compile without it`,
    );
  }
  if (input.mode && !/^incremental$/i.test(input.mode))
    throw new ExpressionError(`deployment mode '${input.mode}' is not supported here; use Incremental`);
  const declared = objectOf(template.parameters, 'parameters');
  const declaredVariables = objectOf(template.variables, 'variables');
  const declaredOutputs = objectOf(template.outputs, 'outputs');
  // `variables.copy: [{name, count, input}]` declares one array variable per loop.
  const variableLoops = (Array.isArray(declaredVariables.copy) ? (declaredVariables.copy as unknown[]) : []).map(
    (loop, i) => {
      if (!loop || typeof loop !== 'object' || typeof (loop as { name?: unknown }).name !== 'string')
        throw new ExpressionError(`variables.copy[${i}] needs a name`);
      return loop as { name: string; count: unknown; input: unknown };
    },
  );
  checkCount('parameters', Object.keys(declared).length, LIMITS.parameters);
  checkCount('variables', variableCount(declaredVariables), LIMITS.variables);
  checkCount('outputs', Object.keys(declaredOutputs).length, LIMITS.outputs);
  parseEveryExpression(template);
  checkLiteralCopyCounts(template);
  // Secure values are secret from the moment they are bound, before any message can quote them.
  for (const [name, declaration] of Object.entries(declared)) {
    if (!/^secure/i.test(String((declaration as { type?: unknown })?.type ?? ''))) continue;
    const given = Object.entries(input.parameters ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    secrets.add(given?.value);
    secrets.add((declaration as { defaultValue?: unknown }).defaultValue);
  }
  const templateHash = BigInt(
    `0x${createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 15)}`,
  ).toString();

  const { context } = input;
  let parameters: Record<string, ResolvedParameter> = {};
  const variables = new Map<string, unknown>();
  const taintedVariables = new Set<string>();
  const evaluating = new Set<string>();
  const scope: FunctionScope = {
    secrets,
    parameter(name) {
      const key = Object.keys(parameters).find((k) => k.toLowerCase() === name.toLowerCase());
      if (!key) throw new ExpressionError(`The template parameter '${name}' is not found.`);
      if (parameters[key]!.secure) secrets.touch();
      return parameters[key]!.value;
    },
    variable(name) {
      const key =
        Object.keys(declaredVariables).find((k) => k !== 'copy' && k.toLowerCase() === name.toLowerCase()) ??
        variableLoops.find((loop) => loop.name.toLowerCase() === name.toLowerCase())?.name;
      if (key === undefined) throw new ExpressionError(`The template variable '${name}' is not found.`);
      if (variables.has(key)) {
        if (taintedVariables.has(key)) secrets.touch();
        return variables.get(key);
      }
      if (evaluating.has(key)) throw new ExpressionError(`The template variable '${key}' refers to itself.`);
      evaluating.add(key);
      secrets.begin();
      let value: unknown;
      try {
        const loop = variableLoops.find((l) => l.name === key);
        value = loop
          ? (evaluateBody({ copy: [loop] }, { ...scope, reference: undefined }) as Record<string, unknown>)[key]
          : evaluateVariable(declaredVariables[key], { ...scope, reference: undefined });
      } finally {
        if (secrets.end()) {
          taintedVariables.add(key);
          secrets.touch();
        }
        evaluating.delete(key);
      }
      variables.set(key, value);
      return value;
    },
    copyIndex() {
      throw new ExpressionError('copyIndex() is used outside of a copy loop');
    },
    resourceGroup: {
      id: `/subscriptions/${context.subscription.id}/resourceGroups/${context.group.name}`,
      name: context.group.name,
      type: 'Microsoft.Resources/resourceGroups',
      location: context.group.location,
      ...(context.group.tags ? { tags: context.group.tags } : {}),
      ...(context.group.managedBy ? { managedBy: context.group.managedBy } : {}),
      properties: { provisioningState: 'Succeeded' },
    },
    subscription: {
      id: `/subscriptions/${context.subscription.id}`,
      subscriptionId: context.subscription.id,
      tenantId: context.subscription.tenantId,
      displayName: context.subscription.displayName,
    },
    tenant: { tenantId: context.subscription.tenantId, countryCode: 'US', displayName: 'iotmq local' },
    deployment: {
      name: input.name,
      properties: {
        templateHash,
        mode: input.mode || 'Incremental',
        provisioningState: 'Running',
        template: { contentVersion: template.contentVersion ?? '1.0.0.0' },
      },
    },
    environment: context.environment,
  };
  // Defaults may use earlier parameters [TPL-2]: the scope reads the map as it fills.
  parameters = resolveParameters(template.parameters, input.parameters ?? {}, (resolved) => {
    parameters = resolved;
    return scope;
  });
  for (const p of Object.values(parameters)) if (p.secure) secrets.add(p.value);
  (scope.deployment.properties as Record<string, unknown>).parameters = publicParameters(parameters);
  // ARM resolves every variable before the deployment starts: an error in one that no resource uses still fails.
  for (const name of Object.keys(declaredVariables)) if (name !== 'copy') scope.variable(name);
  for (const loop of variableLoops) scope.variable(loop.name);
  const planned = planResources(template.resources ?? [], {
    base: scope,
    subscriptionId: context.subscription.id,
    resourceGroup: context.group.name,
  });
  for (const p of planned) if (p.type.toLowerCase() === DEPLOYMENTS) checkNestedDeployment(p);

  const namespaces = new Map<string, Map<string, Set<string>>>();
  for (const p of planned) {
    const [ns, ...types] = p.type.split('/');
    const byType = namespaces.get(ns!) ?? new Map<string, Set<string>>();
    const locations = byType.get(types.join('/')) ?? new Set<string>();
    const location = p.definition.location === undefined ? undefined : evaluateValue(p.definition.location, scope);
    if (typeof location === 'string') locations.add(location);
    byType.set(types.join('/'), locations);
    namespaces.set(ns!, byType);
  }
  const summary = secrets.redactValue({
    templateHash,
    parameters: publicParameters(parameters),
    mode: 'Incremental',
    providers: [...namespaces].map(([namespace, types]) => ({
      namespace,
      resourceTypes: [...types].map(([resourceType, l]) => ({ resourceType, locations: [...l] })),
    })),
    dependencies: planned
      .filter((p) => p.dependsOn.length > 0)
      .map((p) => ({
        id: p.id,
        resourceType: p.type,
        resourceName: p.name,
        dependsOn: p.dependsOn.map((d) => ({
          id: planned[d]!.id,
          resourceType: planned[d]!.type,
          resourceName: planned[d]!.name,
        })),
      })),
  });
  const plan = planned.map((p): PlanEntry => ({
    index: p.index,
    id: p.id,
    type: p.type,
    name: p.name,
    apiVersion: p.apiVersion,
    dependsOn: p.dependsOn,
    nested: p.type.toLowerCase() === DEPLOYMENTS,
    prefetch: referencesOutside(p),
  }));
  return { input, template, parameters, planned, plan, scope, summary, secrets };
}

/** A resource's body as it is sent to its RP, evaluated with the states deployed so far. */
export function evaluateResource(prepared: PreparedTemplate, index: number, states: States): Record<string, unknown> {
  const resource = prepared.planned[index]!;
  const scope = resourceScope(prepared, resource, states);
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource.definition))
    if (!TEMPLATE_ONLY_KEYS.includes(key)) body[key] = evaluateBody(value, scope);
  sized(body, LIMITS.resourceBytes, `The resource '${resource.name}'`, "ARM's 1 MB limit per resource");
  return body;
}

/**
 * A nested deployment's (Bicep module's) inputs: parameters and mode evaluated in the parent's scope
 * (so they may use other modules' outputs through `reference()`), the inner template as written.
 */
export function evaluateNested(
  prepared: PreparedTemplate,
  index: number,
  states: States,
): { mode: string; parameters: Record<string, { value?: unknown }>; template: unknown } {
  const resource = prepared.planned[index]!;
  const scope = resourceScope(prepared, resource, states);
  const properties = (resource.definition.properties ?? {}) as Record<string, unknown>;
  const mode = properties.mode === undefined ? 'Incremental' : String(evaluateValue(properties.mode, scope));
  const parameters = evaluateBody(properties.parameters ?? {}, scope) as Record<string, { value?: unknown }>;
  sized(parameters, LIMITS.expandedBytes, `The parameters of '${resource.name}'`, "ARM's 4 MB template limit");
  return { mode, parameters, template: properties.template };
}

/** The template's outputs once every resource is deployed; secure outputs are omitted [RES-7]. */
export function evaluateOutputs(prepared: PreparedTemplate, states: States): Record<string, unknown> {
  const scope: FunctionScope = { ...prepared.scope, reference: referenceIn(prepared, states) };
  const outputs: Record<string, unknown> = {};
  for (const [name, output] of Object.entries(
    (prepared.template.outputs ?? {}) as Record<string, Record<string, unknown>>,
  )) {
    if (output.condition !== undefined && !evaluateValue(output.condition, scope)) continue;
    const type = normaliseType(String(output.type ?? 'string'));
    if (type.startsWith('Secure')) continue;
    const value = output.copy
      ? (evaluateBody({ copy: [{ name: '__out', ...(output.copy as object) }] }, scope) as { __out: unknown }).__out
      : evaluateValue(output.value, scope);
    outputs[name] = { type, value };
  }
  sized(outputs, LIMITS.expandedBytes, 'The outputs', "ARM's 4 MB template limit");
  return prepared.secrets.redactValue(outputs);
}

function resourceScope(prepared: PreparedTemplate, resource: PlannedResource, states: States): FunctionScope {
  return {
    ...prepared.scope,
    reference: referenceIn(prepared, states),
    copyIndex: (loop) => {
      const name = loop ?? resource.loop?.name;
      const value = name === undefined ? undefined : resource.copyContext[name];
      if (value === undefined) throw new ExpressionError(`copyIndex(${loop ?? ''}) is used outside of a copy loop`);
      return value;
    },
  };
}

function referenceIn(prepared: PreparedTemplate, states: States): NonNullable<FunctionScope['reference']> {
  return (target, apiVersion, full) => {
    const id = target.startsWith('/')
      ? target
      : (prepared.planned.find((p) => p.name.toLowerCase() === target.toLowerCase())?.id ?? target);
    const state = states.get(id.toLowerCase());
    if (!state)
      throw new ExpressionError(
        `reference('${target}'${apiVersion ? `, '${apiVersion}'` : ''}): the resource is not deployed by this template and could not be read`,
      );
    return full ? state : state.properties;
  };
}

/** `reference('<literal id>', '<api-version>')` in a resource's properties: read before its body is evaluated. */
function referencesOutside(resource: PlannedResource): { id: string; apiVersion?: string }[] {
  const targets: { id: string; apiVersion?: string }[] = [];
  const stack: unknown[] = [
    resource.type.toLowerCase() === DEPLOYMENTS
      ? // A nested deployment's own template is evaluated by its own run; only its parameters are ours.
        (resource.definition.properties as { parameters?: unknown } | undefined)?.parameters
      : resource.definition.properties,
  ];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      for (const match of value.matchAll(/reference\(\s*'([^']+)'\s*(?:,\s*'([^']+)')?/gi))
        if (match[1]!.startsWith('/')) targets.push({ id: match[1]!, apiVersion: match[2] });
    } else if (Array.isArray(value)) for (const item of value) stack.push(item);
    else if (value && typeof value === 'object') for (const item of Object.values(value)) stack.push(item);
  }
  return targets;
}

/**
 * Validate-time checks of a nested deployment. Bicep always emits `expressionEvaluationOptions:
 * {scope: 'inner'}`: the inner template's expressions see only its own parameters. ARM's default,
 * `outer`, evaluates them in the parent's scope; this engine does not, and says so up front.
 */
function checkNestedDeployment(resource: PlannedResource): void {
  const properties = (resource.definition.properties ?? {}) as Record<string, unknown>;
  const scope = (properties.expressionEvaluationOptions as { scope?: unknown } | undefined)?.scope;
  if (typeof scope !== 'string' || scope.toLowerCase() !== 'inner') {
    throw new ExpressionError(
      `The nested deployment '${resource.name}' must set expressionEvaluationOptions.scope 'inner' (as Bicep modules do); 'outer' evaluation is not supported here.`,
    );
  }
  if (properties.templateLink !== undefined || properties.template === undefined) {
    throw new ExpressionError(
      `The nested deployment '${resource.name}' must carry its template inline ('properties.template'); templateLink is not supported here.`,
    );
  }
}

function evaluateVariable(value: unknown, scope: FunctionScope): unknown {
  // Variable-level copy: `copy: [{name, count, input}]` makes arrays named by each loop.
  if (
    value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Array.isArray((value as Record<string, unknown>).copy)
  )
    return evaluateBody(value, scope);
  return evaluateValue(value, scope);
}

function publicParameters(parameters: Record<string, ResolvedParameter>): Record<string, unknown> {
  // Secure values are never echoed [TPL-2].
  return Object.fromEntries(
    Object.entries(parameters).map(([k, p]) => [k, p.secure ? { type: p.type } : { type: p.type, value: p.value }]),
  );
}

function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ExpressionError(`'${what}' must be an object`);
  return value as Record<string, unknown>;
}

/** Declared variables, each variable copy loop counting as one. */
function variableCount(variables: Record<string, unknown>): number {
  const loops = Array.isArray(variables.copy) ? variables.copy.length : 0;
  return Object.keys(variables).filter((k) => k !== 'copy').length + loops;
}

/** Every expression of the template parses (ARM's length limit, our depth limit) before anything is evaluated. */
function parseEveryExpression(template: Record<string, unknown>): void {
  const stack: unknown[] = [template];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (isExpression(value)) parseExpression(value);
    } else if (Array.isArray(value)) for (const item of value) stack.push(item);
    else if (value && typeof value === 'object') for (const item of Object.values(value)) stack.push(item);
  }
}

/**
 * Copy loops whose count is written as a number are checked before anything runs (property loops
 * are otherwise only evaluated with their resource, after the PUT was accepted).
 */
function checkLiteralCopyCounts(template: Record<string, unknown>): void {
  const stack: unknown[] = [template];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
    } else if (value && typeof value === 'object') {
      const copy = (value as { copy?: unknown }).copy;
      for (const loop of Array.isArray(copy) ? copy : copy && typeof copy === 'object' ? [copy] : []) {
        const count = (loop as { count?: unknown; name?: unknown })?.count;
        if (typeof count === 'number' || (typeof count === 'string' && !isExpression(count)))
          copyCount(count, `'${String((loop as { name?: unknown }).name ?? 'copy')}'`);
      }
      for (const item of Object.values(value)) stack.push(item);
    }
  }
}
