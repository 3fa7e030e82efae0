import { randomUUID } from 'node:crypto';
import { apiError } from '../../common/errors.js';
import {
  armTimestamp,
  header,
  requireApiVersion,
  resourceGroupOf,
  subscriptionOf,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from '../context.js';
import type { Route } from '../router.js';
import type { DeploymentRecord } from '../store.js';
import { deploymentDeleteRoutes } from './deletion.js';
import { prepareDeployment, runDeployment, type DeploymentInput } from './engine.js';
import { parseJsonc } from './template/index.js';

const NAME = /^[-\w.()]{1,64}$/;
const BASE =
  '^/subscriptions/(?<subscriptionId>[^/]+)/resourceGroups/(?<resourceGroup>[^/]+)/providers/Microsoft\\.Resources/deployments';

/**
 * `Microsoft.Resources/deployments` at resource-group scope [RES-6, RES-7]: PUT runs the template
 * engine in the background (Azure-AsyncOperation → operationStatuses), GET/HEAD/list, DELETE (deletion.ts),
 * POST validate and cancel, operations and their statuses.
 */
export function deploymentRoutes(ctx: ArmContext): Route[] {
  const running = new Map<string, { canceled: boolean }>();
  const idOf = (request: ArmRequest, group: { subscriptionId: string; name: string }) =>
    `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}/providers/Microsoft.Resources/deployments/${request.params.name}`;
  const existing = (request: ArmRequest) => {
    requireApiVersion(request);
    const group = resourceGroupOf(ctx, request);
    const record = ctx.store.deployments.get(idOf(request, group));
    if (!record) throw apiError('DeploymentNotFound', { name: request.params.name! });
    return record;
  };

  /**
   * A deployment whose run threw ends Failed — that deployment only. This handler must not throw
   * itself (an exception here once took the whole process down): if the record cannot be written
   * as it is, a minimal one with the error is written instead, and if not even that, it is logged.
   */
  const endCrashed = (record: DeploymentRecord, error: unknown) => {
    ctx.log.error({ err: error, deployment: record.id }, 'deployment crashed');
    const failed = (body: Record<string, unknown>) => ({
      ...record,
      body: {
        ...body,
        properties: {
          ...((body.properties as object | undefined) ?? {}),
          provisioningState: 'Failed',
          error: { code: 'InternalServerError', message: 'The deployment engine failed; see the front door log.' },
        },
      },
    });
    try {
      ctx.store.deployments.put(failed(record.body));
    } catch (writeError) {
      try {
        ctx.store.deployments.put({
          ...failed({ id: record.id, name: record.name, type: record.body.type }),
          operations: [],
        });
      } catch {
        ctx.log.error({ err: writeError, deployment: record.id }, 'could not record the failed deployment');
      }
    }
  };

  // A deployment this process did not start cannot be running: after a restart (a crash, kill -9),
  // those left Accepted or Running end Failed and say why, instead of Running for ever. Their
  // template is not kept (it may hold secure values), so they cannot be resumed; deploying again
  // is incremental and converges.
  void ctx.ready.then(() => {
    try {
      for (const subscription of ctx.store.subscriptions.list())
        for (const group of ctx.store.resourceGroups.list(subscription.id))
          for (const record of ctx.store.deployments.list(subscription.id, group.name))
            if (!running.has(record.id.toLowerCase())) endInterrupted(record);
    } catch (error) {
      ctx.log.error({ err: error }, 'could not end the deployments a restart interrupted');
    }
  });
  const endInterrupted = (record: DeploymentRecord) => {
    const properties = record.body.properties as { provisioningState?: string };
    if (!['Accepted', 'Running'].includes(properties.provisioningState ?? '')) return;
    const error = {
      code: 'DeploymentInterrupted',
      message:
        'The deployment was interrupted by a restart of the front door before it finished. Resources it had created are left as they are; deploy again to finish.',
    };
    record.body.properties = { ...properties, provisioningState: 'Failed', error };
    for (const operation of record.operations) {
      const op = operation.properties as { provisioningState?: string };
      if (['Accepted', 'Running'].includes(op.provisioningState ?? ''))
        operation.properties = { ...op, provisioningState: 'Failed', statusMessage: { status: 'Failed', error } };
    }
    ctx.store.deployments.put(record);
    ctx.log.info({ deployment: record.id }, 'deployment interrupted by a restart: marked Failed');
  };

  /** The request body: `{properties:{template, parameters, mode}}`, as JSON with comments [RES-7]. */
  const inputOf = (request: ArmRequest): DeploymentInput => {
    const subscription = subscriptionOf(ctx, request);
    const group = resourceGroupOf(ctx, request);
    const name = request.params.name!;
    if (!NAME.test(name)) throw apiError('InvalidDeploymentName', { name });
    let body: { properties?: { template?: unknown; templateLink?: unknown; parameters?: unknown; mode?: string } };
    try {
      body = parseJsonc(request.bodyText || '{}') as typeof body;
    } catch (error) {
      throw apiError('InvalidRequestContent', { reason: (error as Error).message }, { cause: error });
    }
    const properties = body.properties ?? {};
    if (properties.templateLink !== undefined)
      throw apiError('InvalidTemplate', {
        message: 'templateLink is not supported by the local engine; send the template inline',
      });
    if (properties.template === undefined)
      throw apiError('InvalidTemplate', { message: "'properties.template' is required" });
    const parameters = (
      typeof properties.parameters === 'string' ? parseJsonc(properties.parameters) : (properties.parameters ?? {})
    ) as Record<string, { value?: unknown }>;
    // A parameters file's content may arrive whole ({$schema, contentVersion, parameters}).
    const values =
      (parameters as { parameters?: Record<string, { value?: unknown }> }).parameters &&
      (parameters as { $schema?: unknown }).$schema
        ? (parameters as { parameters: Record<string, { value?: unknown }> }).parameters
        : parameters;
    return {
      name,
      subscription,
      group,
      template: properties.template,
      parameters: values,
      mode: properties.mode ?? 'Incremental',
      bodyText: request.bodyText,
    };
  };

  const envelope = (id: string, name: string, properties: Record<string, unknown>) => ({
    id,
    name,
    type: 'Microsoft.Resources/deployments',
    properties,
  });

  return [
    {
      method: 'GET',
      pattern: new RegExp(`${BASE}$`, 'i'),
      handler: async (request) => {
        requireApiVersion(request);
        const group = resourceGroupOf(ctx, request);
        return {
          status: 200,
          body: { value: ctx.store.deployments.list(group.subscriptionId, group.name).map((d) => d.body) },
        };
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)/validate$`, 'i'),
      handler: async (request) => {
        requireApiVersion(request);
        const input = inputOf(request);
        try {
          const prepared = await prepareDeployment(ctx, input);
          prepared.session.close();
          const id = `${input.group ? `/subscriptions/${input.subscription.id}/resourceGroups/${input.group.name}` : ''}/providers/Microsoft.Resources/deployments/${input.name}`;
          return {
            status: 200,
            body: envelope(id, input.name, {
              ...prepared.summary,
              provisioningState: 'Succeeded',
              timestamp: armTimestamp(),
              duration: 'PT0S',
              correlationId: request.correlationId,
              validatedResources: prepared.plan.map((p) => ({ id: p.id })),
            }),
          };
        } catch (error) {
          const err = error as { status?: number; code?: string; message: string; additionalInfo?: unknown[] };
          if (err.status === 400) {
            return {
              status: 400,
              body: {
                error: {
                  code: 'InvalidTemplateDeployment',
                  message: apiError('InvalidTemplateDeployment', { name: input.name, trackingId: randomUUID() })
                    .message,
                  details: [
                    {
                      code: err.code,
                      message: err.message,
                      additionalInfo: err.additionalInfo ?? [
                        { type: 'TemplateViolation', info: { lineNumber: 0, linePosition: 0, path: '' } },
                      ],
                    },
                  ],
                },
              },
            };
          }
          throw error;
        }
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)/cancel$`, 'i'),
      handler: async (request) => {
        const record = existing(request);
        const run = running.get(record.id.toLowerCase());
        if (!run) throw apiError('Conflict', { id: record.id, reason: 'the deployment is not running' });
        run.canceled = true;
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)/operations$`, 'i'),
      handler: async (request) => ({ status: 200, body: { value: existing(request).operations } }),
    },
    {
      method: 'GET',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)/operations/(?<operationId>[^/]+)$`, 'i'),
      handler: async (request) => {
        const operation = existing(request).operations.find(
          (o) => String(o.operationId).toLowerCase() === request.params.operationId!.toLowerCase(),
        );
        if (!operation) throw apiError('OperationNotFound', { operationId: request.params.operationId! });
        return { status: 200, body: operation };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)/operationStatuses/(?<operationId>[^/]+)$`, 'i'),
      handler: async (request) => {
        const record = existing(request);
        const properties = record.body.properties as { provisioningState: string; error?: unknown };
        const state = properties.provisioningState;
        const status = ['Succeeded', 'Failed', 'Canceled'].includes(state) ? state : 'Running';
        return {
          status: 200,
          headers: status === 'Running' ? { 'retry-after': String(ctx.retryAfterSeconds) } : {},
          body: { status, ...(properties.error && status !== 'Succeeded' ? { error: properties.error } : {}) },
        };
      },
    },
    {
      method: ['GET', 'HEAD'],
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)$`, 'i'),
      handler: async (request): Promise<ArmResponse> => {
        const record = existing(request);
        return request.method === 'HEAD' ? { status: 204 } : { status: 200, body: record.body };
      },
    },
    ...deploymentDeleteRoutes(ctx, (id) => running.has(id.toLowerCase())),
    {
      method: 'PUT',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)$`, 'i'),
      handler: async (request) => {
        const version = requireApiVersion(request);
        const input = inputOf(request);
        if (input.group.provisioningState === 'Deleting')
          throw apiError('ResourceGroupBeingDeleted', { resourceGroup: input.group.name });
        const id = `/subscriptions/${input.subscription.id}/resourceGroups/${input.group.name}/providers/Microsoft.Resources/deployments/${input.name}`;
        if (running.has(id.toLowerCase())) throw apiError('DeploymentActive', { name: input.name });
        if (
          (ctx.store.deployments.get(id)?.body.properties as { provisioningState?: string } | undefined)
            ?.provisioningState === 'Deleting'
        ) {
          throw apiError('DeploymentBeingDeleted', { name: input.name });
        }
        // Claimed before the template is prepared (which awaits its evaluator thread): a second PUT meanwhile is 409.
        const run = { canceled: false };
        running.set(id.toLowerCase(), run);
        let prepared: Awaited<ReturnType<typeof prepareDeployment>> | undefined;
        let previous: DeploymentRecord | undefined;
        let record: DeploymentRecord;
        try {
          prepared = await prepareDeployment(ctx, input);
          previous = ctx.store.deployments.get(id);
          record = {
            id,
            subscriptionId: input.subscription.id,
            resourceGroup: input.group.name,
            name: input.name,
            body: envelope(id, input.name, {
              ...prepared.summary,
              provisioningState: 'Accepted',
              timestamp: armTimestamp(),
              duration: 'PT0S',
              correlationId: request.correlationId,
            }),
            operations: [],
          };
          ctx.store.deployments.put(record);
        } catch (error) {
          prepared?.session.close();
          running.delete(id.toLowerCase());
          throw error;
        }
        const operationId = randomUUID().replace(/-/g, '').toUpperCase().slice(0, 16);
        const session = prepared.session;
        ctx.track(
          runDeployment(ctx, prepared, record, {
            save: (r) => ctx.store.deployments.put(r),
            authorization: header(request, 'authorization')!,
            correlationId: request.correlationId,
            canceled: () => run.canceled,
          })
            .catch((error: unknown) => endCrashed(record, error))
            .finally(() => {
              session.close();
              running.delete(id.toLowerCase());
            }),
        );
        return {
          status: previous ? 200 : 201,
          headers: {
            'azure-asyncoperation': `${ctx.publicUrl()}${id}/operationStatuses/${operationId}?api-version=${version}`,
            'retry-after': String(ctx.retryAfterSeconds),
          },
          body: record.body,
        };
      },
    },
  ];
}
