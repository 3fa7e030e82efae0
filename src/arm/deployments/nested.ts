import type { ErrorBody } from '../../common/errors.js';
import type { ArmContext } from '../context.js';
import { armTimestamp } from '../context.js';
import type { DeploymentRecord } from '../store.js';
import {
  evaluationFailure,
  prepareDeployment,
  runDeployment,
  type PreparedDeployment,
  type RunHooks,
} from './engine.js';
import type { PlanEntry, States } from './template/index.js';

export type NestedOutcome = { ok: true; state: Record<string, unknown> } | { ok: false; error: ErrorBody };

/**
 * Runs a nested deployment (a Bicep `module`) as ARM does: its own deployment record in the same
 * resource group (GET-able, with operations), parameters evaluated in the parent's scope (so they
 * may use other modules' outputs through `reference()`), the template in its own, on the parent's
 * evaluator thread and budget. The outcome's state is the deployment as GET returns it:
 * `reference(id).outputs.x.value` reads the outputs from it. Validate-time checks of nested
 * deployments (inner scope, inline template) are in template/prepare.ts.
 */
export async function runNestedDeployment(
  ctx: ArmContext,
  parent: PreparedDeployment,
  resource: PlanEntry,
  states: States,
  hooks: RunHooks,
): Promise<NestedOutcome> {
  const name = resource.id.split('/').at(-1)!;
  let prepared: PreparedDeployment;
  try {
    const inputs = await parent.session.nested(resource.index, states);
    prepared = await prepareDeployment(
      ctx,
      {
        name,
        subscription: parent.input.subscription,
        group: parent.input.group,
        template: inputs.template,
        parameters: inputs.parameters,
        mode: inputs.mode,
      },
      parent.session,
    );
  } catch (error) {
    const err = error as { code?: string; message: string; status?: number };
    const failure = err.status === 400 ? { code: err.code!, message: err.message } : evaluationFailure(error);
    return { ok: false, error: { ...failure, target: resource.id } };
  }
  try {
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
  } finally {
    prepared.session.close();
  }
}
