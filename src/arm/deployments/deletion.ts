import { randomUUID } from 'node:crypto';
import { apiError } from '../../common/errors.js';
import { requireApiVersion, resourceGroupOf, type ArmContext, type ArmRequest } from '../context.js';
import type { Route } from '../router.js';

const BASE =
  '^/subscriptions/(?<subscriptionId>[^/]+)/resourceGroups/(?<resourceGroup>[^/]+)/providers/Microsoft\\.Resources/deployments';

/**
 * Deployment DELETE as ARM answers it [RES-6]: 202 + Location (and Retry-After); the Location
 * answers 202 while the deletion runs and 204 once the deployment is gone. Deleting removes the
 * deployment's history (record and operations), never the resources it made. The record is marked
 * `Deleting` first and removed by a background job, so a restart in between resumes the job and the
 * Location (whose token this process may not know) still tells the outcome from the record.
 */
export function deploymentDeleteRoutes(ctx: ArmContext, isRunning: (id: string) => boolean): Route[] {
  const jobs = new Map<string, { id: string; done: boolean }>();
  const deleting = new Set<string>();
  const idOf = (request: ArmRequest) => {
    const group = resourceGroupOf(ctx, request);
    return `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}/providers/Microsoft.Resources/deployments/${request.params.name}`;
  };
  const start = (id: string): string => {
    const token = randomUUID();
    const job = { id, done: false };
    jobs.set(token, job);
    if (deleting.has(id.toLowerCase())) return token;
    deleting.add(id.toLowerCase());
    ctx.track(
      // After the RP is reachable and on a later turn than the request that asked for it, as ARM's job queue does.
      ctx.ready
        .then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(() => {
          ctx.store.deployments.delete(id);
          for (const other of jobs.values()) if (other.id.toLowerCase() === id.toLowerCase()) other.done = true;
        })
        .finally(() => deleting.delete(id.toLowerCase())),
    );
    return token;
  };
  const markDeleting = (id: string) => {
    const record = ctx.store.deployments.get(id);
    if (!record) return;
    record.body.properties = { ...(record.body.properties as object), provisioningState: 'Deleting' };
    ctx.store.deployments.put(record);
  };

  // A restart in the middle of a deletion resumes it.
  void ctx.ready.then(() => {
    for (const subscription of ctx.store.subscriptions.list()) {
      for (const group of ctx.store.resourceGroups.list(subscription.id)) {
        for (const record of ctx.store.deployments.list(subscription.id, group.name)) {
          if ((record.body.properties as { provisioningState?: string }).provisioningState === 'Deleting')
            start(record.id);
        }
      }
    }
  });

  return [
    {
      method: 'DELETE',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)$`, 'i'),
      handler: async (request) => {
        const version = requireApiVersion(request);
        const id = idOf(request);
        if (isRunning(id)) throw apiError('DeploymentActive', { name: request.params.name! });
        if (!ctx.store.deployments.get(id)) return { status: 204 };
        markDeleting(id);
        const token = start(id);
        return {
          status: 202,
          headers: {
            location: `${ctx.publicUrl()}${id}/operationResults/${token}?api-version=${version}`,
            'retry-after': String(ctx.retryAfterSeconds),
          },
        };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${BASE}/(?<name>[^/]+)/operationResults/(?<token>[^/]+)$`, 'i'),
      handler: async (request) => {
        const version = requireApiVersion(request);
        const id = idOf(request);
        const job = jobs.get(request.params.token!);
        if (job && job.id.toLowerCase() !== id.toLowerCase())
          throw apiError('OperationNotFound', { operationId: request.params.token! });
        // Unknown here (another process started it): the record's state tells the outcome.
        const record = job ? undefined : ctx.store.deployments.get(id);
        const inProgress = job
          ? !job.done
          : (record?.body.properties as { provisioningState?: string } | undefined)?.provisioningState === 'Deleting';
        if (inProgress) {
          return {
            status: 202,
            headers: {
              location: `${ctx.publicUrl()}${request.path}?api-version=${version}`,
              'retry-after': String(ctx.retryAfterSeconds),
            },
          };
        }
        if (!job && record) throw apiError('OperationNotFound', { operationId: request.params.token! });
        return { status: 204 };
      },
    },
  ];
}
