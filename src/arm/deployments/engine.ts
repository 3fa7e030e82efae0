import { createHash, randomUUID } from 'node:crypto';
import { apiError, type ErrorBody } from '../../common/errors.js';
import type { ArmContext } from '../context.js';
import { armTimestamp } from '../context.js';
import { followOperation } from '../lro.js';
import { cloudMetadata } from '../metadata.js';
import type { DeploymentRecord, ResourceGroup, Subscription } from '../store.js';
import { EvaluationError, openTemplate, type EvaluatorSession } from './evaluator.js';
import { runNestedDeployment } from './nested.js';
import { LIMITS, locate, type PlanEntry, type States } from './template/index.js';

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
  /** The template on its evaluator thread (evaluator.ts); closed when the deployment is done with it. */
  session: EvaluatorSession;
  plan: PlanEntry[];
  /** The deployment's properties shared by PUT, GET and validate (secrets redacted). */
  summary: Record<string, unknown>;
}

/**
 * Validates and plans a template on an evaluator thread; template problems are 400 InvalidTemplate
 * at validate time [TPL-9] (InvalidRequestContent for a resource definition with an unknown member).
 * A nested deployment passes its parent's session (same thread, budget and secrets).
 */
export async function prepareDeployment(
  ctx: ArmContext,
  input: DeploymentInput,
  parent?: EvaluatorSession,
): Promise<PreparedDeployment> {
  try {
    const session = await openTemplate(
      {
        name: input.name,
        context: {
          subscription: {
            id: input.subscription.id,
            tenantId: input.subscription.tenantId,
            displayName: input.subscription.displayName,
          },
          group: {
            name: input.group.name,
            location: input.group.location,
            ...(input.group.tags ? { tags: input.group.tags } : {}),
            ...(input.group.managedBy ? { managedBy: input.group.managedBy } : {}),
          },
          environment: cloudMetadata(ctx.publicUrl()),
        },
        template: input.template,
        parameters: input.parameters ?? {},
        mode: input.mode,
      },
      parent,
    );
    return { input, session, plan: session.plan, summary: session.summary };
  } catch (error) {
    if (!(error instanceof EvaluationError)) throw error;
    if (error.code === 'InvalidRequestContent')
      throw apiError('InvalidRequestContent', { reason: error.message }, { cause: error });
    throw apiError(
      'InvalidTemplate',
      { message: error.message },
      { cause: error, additionalInfo: [templateViolation(error, input)] },
    );
  }
}

/**
 * Where a template error is [TPL-9]: ARM's path into the request (`properties.template.resources[1]`)
 * and its line and column in the body as sent; 0, 0 and '' when not known, as ARM writes them.
 */
function templateViolation(
  error: EvaluationError,
  input: DeploymentInput,
): { type: string; info: Record<string, unknown> } {
  const path = error.path === undefined ? '' : `properties.template.${error.path}`;
  const at = path && input.bodyText && typeof input.template !== 'string' ? locate(input.bodyText, path) : undefined;
  return {
    type: 'TemplateViolation',
    info: { lineNumber: at?.lineNumber ?? 0, linePosition: at?.linePosition ?? 0, path },
  };
}

/** An evaluation failure in a deployment's record: ARM's code and the (redacted) message. */
export function evaluationFailure(error: unknown): ErrorBody {
  return error instanceof EvaluationError
    ? { code: error.code, message: error.message }
    : {
        code: 'InternalServerError',
        message: `The deployment engine failed: ${(error as Error)?.message ?? String(error)}`,
      };
}

export interface RunHooks {
  /** Persists the record after each change (operations, state). */
  save(record: DeploymentRecord): void;
  /** The caller's bearer token: resources are written with the deploying identity, through the front door. */
  authorization: string;
  correlationId: string;
  canceled(): boolean;
}

/**
 * Runs a prepared deployment: resources in dependency order, in parallel where independent [TPL-6].
 * Everything it writes passes through the deployment's secrets, so that an RP's message quoting a
 * secure value, an evaluation error or an output never shows one [issue 11.11]. It does not close
 * the session (the caller does, also when this throws).
 */
export async function runDeployment(
  ctx: ArmContext,
  prepared: PreparedDeployment,
  record: DeploymentRecord,
  hooks: RunHooks,
): Promise<void> {
  const started = Date.now();
  const { session } = prepared;
  const states: States = new Map(); // deployed resources by lower-cased id, for reference()
  const results = new Map<number, Promise<boolean>>();
  const headers = { authorization: hooks.authorization, 'x-ms-correlation-request-id': hooks.correlationId };
  const errors: ErrorBody[] = [];
  /** JSON characters of everything evaluated so far: ARM's 4 MB limit on the expanded template. */
  let expanded = 0;
  const set = (properties: Record<string, unknown>) => {
    record.body.properties = {
      ...(record.body.properties as Record<string, unknown>),
      ...session.secrets.redactValue(properties),
      duration: isoDuration(Date.now() - started),
    };
    hooks.save(record);
  };
  const fail = (error: ErrorBody) => errors.push(session.secrets.redactValue(error));
  set({ provisioningState: 'Running' });

  const deploy = async (resource: PlanEntry): Promise<boolean> => {
    const dependencies = await Promise.all(resource.dependsOn.map((d) => results.get(d)!));
    if (dependencies.some((ok) => !ok) || hooks.canceled() || ctx.signal.aborted) return false;
    const operationId = createHash('sha256')
      .update(`${record.id}|${resource.id}`)
      .digest('hex')
      .slice(0, 16)
      .toUpperCase();
    const operation: Record<string, unknown> = session.secrets.redactValue({
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
    });
    record.operations.push(operation);
    hooks.save(record);
    const opStarted = Date.now();
    const finish = (state: string, statusCode: string, statusMessage: unknown, serviceRequestId?: string) => {
      Object.assign(operation.properties as Record<string, unknown>, {
        provisioningState: state,
        statusCode,
        statusMessage: session.secrets.redactValue(statusMessage),
        duration: isoDuration(Date.now() - opStarted),
        serviceRequestId,
        timestamp: armTimestamp(),
      });
      hooks.save(record);
    };
    try {
      // External references are read before the body is evaluated (evaluation cannot wait for I/O).
      await prefetchReferences(ctx, resource, prepared, states, headers);
      if (resource.nested) {
        const nested = await runNestedDeployment(ctx, prepared, resource, states, hooks);
        if (!nested.ok) {
          fail({ ...nested.error, target: nested.error.target ?? resource.id });
          finish('Failed', 'BadRequest', { status: 'Failed', error: nested.error });
          return false;
        }
        states.set(resource.id.toLowerCase(), nested.state);
        finish('Succeeded', 'Created', { status: 'Succeeded' });
        return true;
      }
      const body = await session.resource(resource.index, states);
      expanded += JSON.stringify(body).length;
      if (expanded > LIMITS.expandedBytes) throw tooLarge();
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
        fail({ ...error, target: error.target ?? resource.id });
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
      if (!(error instanceof EvaluationError))
        ctx.log.error({ err: error, deployment: record.id }, 'resource deployment failed');
      const body = evaluationFailure(error);
      fail({ ...body, target: resource.id });
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
    const outputs = await session.outputs(states);
    expanded += JSON.stringify(outputs).length;
    if (expanded > LIMITS.expandedBytes) throw tooLarge();
    set({ provisioningState: 'Succeeded', outputs, outputResources: prepared.plan.map((p) => ({ id: p.id })) });
  } catch (error) {
    const cause = evaluationFailure(error);
    set({
      provisioningState: 'Failed',
      error: {
        code: 'DeploymentOutputEvaluationFailed',
        message: `Unable to evaluate template outputs: ${cause.message}`,
        details: [cause],
      },
    });
  }
}

const tooLarge = () =>
  new EvaluationError({
    code: 'DeploymentJobSizeExceeded',
    message: `The deployment's expanded template (resource bodies and outputs) is larger than ARM's 4 MB limit (${LIMITS.expandedBytes.toLocaleString('en-US')} characters).`,
  });

async function prefetchReferences(
  ctx: ArmContext,
  resource: PlanEntry,
  prepared: PreparedDeployment,
  states: States,
  headers: Record<string, string>,
): Promise<void> {
  for (const target of resource.prefetch) {
    if (states.has(target.id.toLowerCase()) || !target.apiVersion) continue;
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
