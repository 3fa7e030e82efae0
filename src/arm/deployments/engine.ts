import { createHash, randomUUID } from 'node:crypto';
import { apiError, type ErrorBody } from '../../common/errors.js';
import type { ArmContext } from '../context.js';
import { armTimestamp } from '../context.js';
import { followOperation } from '../lro.js';
import { cloudMetadata } from '../metadata.js';
import { checkNestedDeployment, isNestedDeployment, runNestedDeployment } from './nested.js';
import type { DeploymentRecord, ResourceGroup, Subscription } from '../store.js';
import {
  evaluateBody,
  evaluateValue,
  ExpressionError,
  locate,
  normaliseType,
  parseJsonc,
  planResources,
  resolveParameters,
  TEMPLATE_ONLY_KEYS,
  type FunctionScope,
  type PlannedResource,
  type ResolvedParameter,
} from './template/index.js';

export interface DeploymentInput {
  name: string;
  subscription: Subscription;
  group: ResourceGroup;
  /** The template (object) or its raw text (JSON with comments). */
  template: unknown;
  parameters: Record<string, { value?: unknown }>;
  mode: string;
  /** The request body as sent, to point TemplateViolations at a line and column. */
  bodyText?: string;
}

/** A validated deployment: everything evaluated that can be before any resource exists. */
export interface PreparedDeployment {
  input: DeploymentInput;
  template: Record<string, unknown>;
  parameters: Record<string, ResolvedParameter>;
  plan: PlannedResource[];
  scope: FunctionScope;
  templateHash: string;
  /** The deployment's properties shared by PUT, GET and validate. */
  summary: Record<string, unknown>;
}

/** Turns template problems into 400 InvalidTemplate, at validate time [TPL-9]. */
export function prepareDeployment(ctx: ArmContext, input: DeploymentInput): PreparedDeployment {
  try {
    const template = (typeof input.template === 'string' ? parseJsonc(input.template) : input.template) as Record<
      string,
      unknown
    >;
    if (!template || typeof template !== 'object' || Array.isArray(template))
      throw new ExpressionError("'template' must be an object");
    if (template.languageVersion !== undefined) {
      throw new ExpressionError(
        `languageVersion '${String(template.languageVersion)}' (symbolic resource names) is not supported by this engine; compile without it`,
      );
    }
    if (input.mode && !/^incremental$/i.test(input.mode))
      throw new ExpressionError(`deployment mode '${input.mode}' is not supported here; use Incremental`);
    const templateHash = BigInt(
      `0x${createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 15)}`,
    ).toString();

    let parameters: Record<string, ResolvedParameter> = {};
    const variables = new Map<string, unknown>();
    const evaluating = new Set<string>();
    const declaredVariables = (template.variables ?? {}) as Record<string, unknown>;
    const scope: FunctionScope = {
      parameter(name) {
        const key = Object.keys(parameters).find((k) => k.toLowerCase() === name.toLowerCase());
        if (!key) throw new ExpressionError(`The template parameter '${name}' is not found.`);
        return parameters[key]!.value;
      },
      variable(name) {
        const key = Object.keys(declaredVariables).find((k) => k.toLowerCase() === name.toLowerCase());
        if (key === undefined) throw new ExpressionError(`The template variable '${name}' is not found.`);
        if (variables.has(key)) return variables.get(key);
        if (evaluating.has(key)) throw new ExpressionError(`The template variable '${key}' refers to itself.`);
        evaluating.add(key);
        const value = evaluateVariable(declaredVariables[key], { ...scope, reference: undefined });
        evaluating.delete(key);
        variables.set(key, value);
        return value;
      },
      copyIndex() {
        throw new ExpressionError('copyIndex() is used outside of a copy loop');
      },
      resourceGroup: {
        id: `/subscriptions/${input.subscription.id}/resourceGroups/${input.group.name}`,
        name: input.group.name,
        type: 'Microsoft.Resources/resourceGroups',
        location: input.group.location,
        ...(input.group.tags ? { tags: input.group.tags } : {}),
        ...(input.group.managedBy ? { managedBy: input.group.managedBy } : {}),
        properties: { provisioningState: 'Succeeded' },
      },
      subscription: {
        id: `/subscriptions/${input.subscription.id}`,
        subscriptionId: input.subscription.id,
        tenantId: input.subscription.tenantId,
        displayName: input.subscription.displayName,
      },
      tenant: { tenantId: input.subscription.tenantId, countryCode: 'US', displayName: 'iotmq local' },
      deployment: {
        name: input.name,
        properties: {
          templateHash,
          mode: input.mode || 'Incremental',
          provisioningState: 'Running',
          template: { contentVersion: template.contentVersion ?? '1.0.0.0' },
        },
      },
      environment: cloudMetadata(ctx.publicUrl()),
    };
    // Defaults may use earlier parameters [TPL-2]: the scope reads the map as it fills.
    parameters = resolveParameters(template.parameters, input.parameters ?? {}, (resolved) => {
      parameters = resolved;
      return scope;
    });
    (scope.deployment.properties as Record<string, unknown>).parameters = publicParameters(parameters);
    const plan = planResources(template.resources ?? [], {
      base: scope,
      subscriptionId: input.subscription.id,
      resourceGroup: input.group.name,
    });
    for (const p of plan) if (isNestedDeployment(p)) checkNestedDeployment(p);

    const namespaces = new Map<string, Map<string, Set<string>>>();
    for (const p of plan) {
      const [ns, ...types] = p.type.split('/');
      const byType = namespaces.get(ns!) ?? new Map<string, Set<string>>();
      const locations = byType.get(types.join('/')) ?? new Set<string>();
      const location = p.definition.location === undefined ? undefined : evaluateValue(p.definition.location, scope);
      if (typeof location === 'string') locations.add(location);
      byType.set(types.join('/'), locations);
      namespaces.set(ns!, byType);
    }
    const summary = {
      templateHash,
      parameters: publicParameters(parameters),
      mode: 'Incremental',
      providers: [...namespaces].map(([namespace, types]) => ({
        namespace,
        resourceTypes: [...types].map(([resourceType, l]) => ({ resourceType, locations: [...l] })),
      })),
      dependencies: plan
        .filter((p) => p.dependsOn.length > 0)
        .map((p) => ({
          id: p.id,
          resourceType: p.type,
          resourceName: p.name,
          dependsOn: p.dependsOn.map((d) => ({
            id: plan[d]!.id,
            resourceType: plan[d]!.type,
            resourceName: plan[d]!.name,
          })),
        })),
    };
    return { input, template, parameters, plan, scope, templateHash, summary };
  } catch (error) {
    if (error instanceof ExpressionError || error instanceof SyntaxError) {
      if ((error as { code?: string }).code === 'InvalidRequestContent')
        throw apiError('InvalidRequestContent', { reason: error.message }, { cause: error });
      throw apiError(
        'InvalidTemplate',
        { message: error.message },
        { cause: error, additionalInfo: [templateViolation(error, input)] },
      );
    }
    throw error;
  }
}

/**
 * Where a template error is [TPL-9]: ARM's path into the request (`properties.template.resources[1]`)
 * and its line and column in the body as sent; 0, 0 and '' when not known, as ARM writes them.
 */
function templateViolation(error: Error, input: DeploymentInput): { type: string; info: Record<string, unknown> } {
  const inner = error instanceof ExpressionError ? error.path : undefined;
  const path = inner === undefined ? '' : `properties.template.${inner}`;
  const at = path && input.bodyText && typeof input.template !== 'string' ? locate(input.bodyText, path) : undefined;
  return {
    type: 'TemplateViolation',
    info: { lineNumber: at?.lineNumber ?? 0, linePosition: at?.linePosition ?? 0, path },
  };
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

export interface RunHooks {
  /** Persists the record after each change (operations, state). */
  save(record: DeploymentRecord): void;
  /** The caller's bearer token: resources are written with the deploying identity, through the front door. */
  authorization: string;
  correlationId: string;
  canceled(): boolean;
}

/** Runs a prepared deployment: resources in dependency order, in parallel where independent [TPL-6]. */
export async function runDeployment(
  ctx: ArmContext,
  prepared: PreparedDeployment,
  record: DeploymentRecord,
  hooks: RunHooks,
): Promise<void> {
  const started = Date.now();
  const states = new Map<string, Record<string, unknown>>(); // deployed resources by lower-cased id, for reference()
  const results = new Map<number, Promise<boolean>>();
  const headers = { authorization: hooks.authorization, 'x-ms-correlation-request-id': hooks.correlationId };
  const errors: ErrorBody[] = [];
  const set = (properties: Record<string, unknown>) => {
    record.body.properties = {
      ...(record.body.properties as Record<string, unknown>),
      ...properties,
      duration: isoDuration(Date.now() - started),
    };
    hooks.save(record);
  };
  set({ provisioningState: 'Running' });

  const reference = (target: string, apiVersion: string | undefined, full: boolean): unknown => {
    const id = target.startsWith('/')
      ? target
      : (prepared.plan.find((p) => p.name.toLowerCase() === target.toLowerCase())?.id ?? target);
    const state = states.get(id.toLowerCase());
    if (!state)
      throw new ExpressionError(
        `reference('${target}'${apiVersion ? `, '${apiVersion}'` : ''}): the resource is not deployed by this template and could not be read`,
      );
    return full ? state : state.properties;
  };

  const deploy = async (resource: PlannedResource): Promise<boolean> => {
    const dependencies = await Promise.all(resource.dependsOn.map((d) => results.get(d)!));
    if (dependencies.some((ok) => !ok) || hooks.canceled() || ctx.signal.aborted) return false;
    const operationId = createHash('sha256')
      .update(`${record.id}|${resource.id}`)
      .digest('hex')
      .slice(0, 16)
      .toUpperCase();
    const operation: Record<string, unknown> = {
      id: `${record.id}/operations/${operationId}`,
      operationId,
      properties: {
        provisioningOperation: 'Create',
        provisioningState: 'Running',
        timestamp: armTimestamp(),
        duration: 'PT0S',
        trackingId: randomUUID(),
        targetResource: {
          id: resource.id,
          resourceType: resource.type,
          resourceName: resource.name,
          apiVersion: resource.apiVersion,
        },
      },
    };
    record.operations.push(operation);
    hooks.save(record);
    const opStarted = Date.now();
    const finish = (state: string, statusCode: string, statusMessage: unknown, serviceRequestId?: string) => {
      Object.assign(operation.properties as Record<string, unknown>, {
        provisioningState: state,
        statusCode,
        statusMessage,
        duration: isoDuration(Date.now() - opStarted),
        serviceRequestId,
        timestamp: armTimestamp(),
      });
      hooks.save(record);
    };
    try {
      // External references are read before the body is evaluated (evaluation is synchronous).
      await prefetchReferences(ctx, resource, prepared, states, headers);
      const fnScope: FunctionScope = {
        ...prepared.scope,
        reference,
        copyIndex: (loop) => {
          const name = loop ?? resource.loop?.name;
          const value = name === undefined ? undefined : resource.copyContext[name];
          if (value === undefined) throw new ExpressionError(`copyIndex(${loop ?? ''}) is used outside of a copy loop`);
          return value;
        },
      };
      if (isNestedDeployment(resource)) {
        const nested = await runNestedDeployment(ctx, prepared, resource, fnScope, hooks);
        if (!nested.ok) {
          errors.push({ ...nested.error, target: nested.error.target ?? resource.id });
          finish('Failed', 'BadRequest', { status: 'Failed', error: nested.error });
          return false;
        }
        states.set(resource.id.toLowerCase(), nested.state);
        finish('Succeeded', 'Created', { status: 'Succeeded' });
        return true;
      }
      const body: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(resource.definition))
        if (!TEMPLATE_ONLY_KEYS.includes(key)) body[key] = evaluateBody(value, fnScope);
      const path = `${resource.id}?api-version=${encodeURIComponent(resource.apiVersion)}`;
      const first = await ctx.dispatch('PUT', path, body, headers);
      const serviceRequestId = first.headers.get('x-ms-request-id') ?? undefined;
      const outcome = await followOperation(
        { json: (method, p, b, h) => ctx.dispatch(method, p, b, { ...headers, ...(h ?? {}) }) },
        first,
        path,
        {
          method: 'PUT',
          signal: ctx.signal,
          maxPollMs: ctx.maxPollMs,
        },
      );
      if (outcome.status !== 'Succeeded') {
        const error = outcome.error ?? {
          code: 'ResourceDeploymentFailure',
          message: `The resource operation completed with terminal provisioning state '${outcome.status}'.`,
        };
        errors.push({ ...error, target: error.target ?? resource.id });
        finish(
          'Failed',
          first.status >= 400 ? statusText(first.status) : 'Conflict',
          { status: 'Failed', error },
          serviceRequestId,
        );
        return false;
      }
      const final = outcome.resource ?? (await ctx.dispatch('GET', path, undefined, headers)).body;
      if (final && typeof final === 'object') states.set(resource.id.toLowerCase(), final as Record<string, unknown>);
      finish('Succeeded', first.status === 201 ? 'Created' : 'OK', { status: 'Succeeded' }, serviceRequestId);
      return true;
    } catch (error) {
      const body: ErrorBody =
        error instanceof ExpressionError
          ? { code: 'InvalidTemplate', message: error.message }
          : { code: 'InternalServerError', message: (error as Error).message };
      errors.push({ ...body, target: resource.id });
      finish('Failed', 'BadRequest', { status: 'Failed', error: body });
      return false;
    }
  };

  for (const resource of prepared.plan)
    results.set(
      resource.index,
      Promise.resolve().then(() => deploy(resource)),
    );
  const outcomes = await Promise.all(prepared.plan.map((r) => results.get(r.index)!));

  if (hooks.canceled())
    return set({
      provisioningState: 'Canceled',
      error: { code: 'DeploymentCanceled', message: 'The deployment was canceled.' },
    });
  if (outcomes.some((ok) => !ok) || errors.length > 0) {
    return set({
      provisioningState: 'Failed',
      error: { code: 'DeploymentFailed', message: apiError('DeploymentFailed').message, details: errors },
      outputResources: prepared.plan.filter((p) => states.has(p.id.toLowerCase())).map((p) => ({ id: p.id })),
    });
  }
  try {
    const outputs: Record<string, unknown> = {};
    const outScope: FunctionScope = { ...prepared.scope, reference };
    for (const [name, output] of Object.entries(
      (prepared.template.outputs ?? {}) as Record<string, Record<string, unknown>>,
    )) {
      if (output.condition !== undefined && !evaluateValue(output.condition, outScope)) continue;
      const type = normaliseType(String(output.type ?? 'string'));
      if (type.startsWith('Secure')) continue; // secure outputs are omitted [RES-7]
      const value = output.copy
        ? evaluateBody({ copy: [{ name: '__out', ...(output.copy as object) }] }, outScope)
        : evaluateValue(output.value, outScope);
      outputs[name] = { type, value: output.copy ? (value as Record<string, unknown>).__out : value };
    }
    set({ provisioningState: 'Succeeded', outputs, outputResources: prepared.plan.map((p) => ({ id: p.id })) });
  } catch (error) {
    set({
      provisioningState: 'Failed',
      error: { code: 'DeploymentOutputEvaluationFailed', message: (error as Error).message },
    });
  }
}

async function prefetchReferences(
  ctx: ArmContext,
  resource: PlannedResource,
  prepared: PreparedDeployment,
  states: Map<string, Record<string, unknown>>,
  headers: Record<string, string>,
): Promise<void> {
  const targets: { id: string; apiVersion?: string }[] = [];
  const scan = (value: unknown) => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(/reference\(\s*'([^']+)'\s*(?:,\s*'([^']+)')?/gi))
        targets.push({ id: match[1]!, apiVersion: match[2] });
    } else if (Array.isArray(value)) value.forEach(scan);
    else if (value && typeof value === 'object') Object.values(value).forEach(scan);
  };
  // A nested deployment's own template is evaluated by its own run; only its parameters are ours.
  scan(
    isNestedDeployment(resource)
      ? (resource.definition.properties as { parameters?: unknown } | undefined)?.parameters
      : resource.definition.properties,
  );
  for (const target of targets) {
    if (!target.id.startsWith('/') || states.has(target.id.toLowerCase()) || !target.apiVersion) continue;
    if (prepared.plan.some((p) => p.id.toLowerCase() === target.id.toLowerCase())) continue;
    const response = await ctx.dispatch(
      'GET',
      `${target.id}?api-version=${encodeURIComponent(target.apiVersion)}`,
      undefined,
      headers,
    );
    if (response.status === 200) states.set(target.id.toLowerCase(), response.body as Record<string, unknown>);
  }
}

function statusText(status: number): string {
  return (
    (
      {
        400: 'BadRequest',
        401: 'Unauthorized',
        403: 'Forbidden',
        404: 'NotFound',
        409: 'Conflict',
        412: 'PreconditionFailed',
        500: 'InternalServerError',
      } as Record<number, string>
    )[status] ?? String(status)
  );
}

export function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3).replace(/\.?0+$/, '') || '0'}S`;
}
