import type { ErrorBody } from '../../common/errors.js';
import type { ArmContext } from '../context.js';
import { armTimestamp } from '../context.js';
import type { DeploymentRecord } from '../store.js';
import { prepareDeployment, runDeployment, type PreparedDeployment, type RunHooks } from './engine.js';
import {
  evaluateBody,
  evaluateValue,
  ExpressionError,
  type FunctionScope,
  type PlannedResource,
} from './template/index.js';

const DEPLOYMENTS = 'microsoft.resources/deployments';

/** A Bicep `module`: a `Microsoft.Resources/deployments` resource with an inline template. */
export function isNestedDeployment(resource: PlannedResource): boolean {
  return resource.type.toLowerCase() === DEPLOYMENTS;
}

/**
 * Validate-time checks of a nested deployment. Bicep always emits `expressionEvaluationOptions:
 * {scope: 'inner'}`: the inner template's expressions see only its own parameters. ARM's default,
 * `outer`, evaluates them in the parent's scope; this engine does not, and says so up front.
 */
export function checkNestedDeployment(resource: PlannedResource): void {
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

export type NestedOutcome = { ok: true; state: Record<string, unknown> } | { ok: false; error: ErrorBody };

/**
 * Runs a nested deployment as ARM does: its own deployment record in the same resource group
 * (GET-able, with operations), parameters evaluated in the parent's scope (so they may use other
 * modules' outputs through `reference()`), the template in its own. The outcome's state is the
 * deployment as GET returns it: `reference(id).outputs.x.value` reads the outputs from it.
 */
export async function runNestedDeployment(
  ctx: ArmContext,
  parent: PreparedDeployment,
  resource: PlannedResource,
  outerScope: FunctionScope,
  hooks: RunHooks,
): Promise<NestedOutcome> {
  const properties = (resource.definition.properties ?? {}) as Record<string, unknown>;
  const mode = properties.mode === undefined ? 'Incremental' : String(evaluateValue(properties.mode, outerScope));
  const parameters = evaluateBody(properties.parameters ?? {}, outerScope) as Record<string, { value?: unknown }>;
  const name = resource.id.split('/').at(-1)!;
  let prepared: PreparedDeployment;
  try {
    prepared = prepareDeployment(ctx, {
      name,
      subscription: parent.input.subscription,
      group: parent.input.group,
      template: properties.template,
      parameters,
      mode,
    });
  } catch (error) {
    const err = error as { code?: string; message: string };
    return { ok: false, error: { code: err.code ?? 'InvalidTemplate', message: err.message, target: resource.id } };
  }
  const record: DeploymentRecord = {
    id: resource.id,
    subscriptionId: parent.input.subscription.id,
    resourceGroup: parent.input.group.name,
    name,
    body: {
      id: resource.id,
      name,
      type: 'Microsoft.Resources/deployments',
      properties: {
        ...prepared.summary,
        provisioningState: 'Accepted',
        timestamp: armTimestamp(),
        duration: 'PT0S',
        correlationId: hooks.correlationId,
      },
    },
    operations: [],
  };
  ctx.store.deployments.put(record);
  await runDeployment(ctx, prepared, record, { ...hooks, save: (r) => ctx.store.deployments.put(r) });
  const result = record.body.properties as { provisioningState: string; error?: ErrorBody };
  if (result.provisioningState === 'Succeeded') return { ok: true, state: record.body };
  return {
    ok: false,
    error: result.error ?? {
      code: 'DeploymentFailed',
      message: `The nested deployment '${name}' ended ${result.provisioningState}.`,
      target: resource.id,
    },
  };
}
