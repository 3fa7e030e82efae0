import { parentIdOf } from '../api/arm-id.js';
import { API_VERSION, PROVIDER_NAMESPACE } from '../api/openapi.js';
import { apiError, type ErrorBody } from '../common/errors.js';
import {
  jsonBody,
  requireApiVersion,
  resourceGroupOf,
  subscriptionOf,
  type ArmContext,
  type ArmRequest,
} from './context.js';
import { validTags } from '../rp/resource-body.js';
import { normaliseLocation } from './locations.js';
import { errorOf, followOperation } from './lro.js';
import type { Route } from './router.js';
import type { ResourceGroup } from './store.js';

const RG_NAME = /^[-\w.()]{1,90}$/u;
const RG = '(?<resourceGroup>[^/]+)';

interface DeleteOperation {
  status: 'Running' | 'Succeeded' | 'Failed';
  error?: ErrorBody;
}

/**
 * Resource groups [RES-3]. DELETE is async: it deletes every MQ resource in the group through
 * the RP (each an RP async operation, followed to its end), then the front door's own resources
 * and deployments, then the group. The Location URL answers 202 until then.
 */
export function resourceGroupRoutes(ctx: ArmContext): Route[] {
  const operations = new Map<string, DeleteOperation>();
  const view = (g: ResourceGroup) => ({
    id: `/subscriptions/${g.subscriptionId}/resourceGroups/${g.name}`,
    name: g.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: g.location,
    ...(g.tags ? { tags: g.tags } : {}),
    ...(g.managedBy ? { managedBy: g.managedBy } : {}),
    properties: { provisioningState: g.provisioningState },
  });
  const operationUrl = (subscriptionId: string, token: string, version: string) =>
    `${ctx.publicUrl()}/subscriptions/${subscriptionId}/operationresults/${token}?api-version=${version}`;

  const startDelete = (group: ResourceGroup): string => {
    const token = Buffer.from(JSON.stringify({ s: group.subscriptionId, g: group.name.toLowerCase() })).toString(
      'base64url',
    );
    if (operations.get(token)?.status === 'Running') return token;
    const operation: DeleteOperation = { status: 'Running' };
    operations.set(token, operation);
    ctx.store.resourceGroups.put({ ...group, provisioningState: 'Deleting' });
    ctx.track(
      cascadeDelete(ctx, group).then(
        () => {
          operation.status = 'Succeeded';
          ctx.log.info({ resourceGroup: group.name }, 'resource group deleted');
        },
        (error: unknown) => {
          operation.status = 'Failed';
          operation.error = (error as { body?: ErrorBody }).body ?? {
            code: 'ResourceGroupDeletionBlocked',
            message: (error as Error).message,
          };
          const current = ctx.store.resourceGroups.get(group.subscriptionId, group.name);
          if (current) ctx.store.resourceGroups.put({ ...current, provisioningState: 'Succeeded' });
          ctx.log.warn({ resourceGroup: group.name, err: error }, 'resource group deletion failed');
        },
      ),
    );
    return token;
  };

  // A restart in the middle of a delete resumes it, once the RP is reachable.
  void ctx.ready.then(() => {
    for (const subscription of ctx.store.subscriptions.list()) {
      for (const group of ctx.store.resourceGroups.list(subscription.id))
        if (group.provisioningState === 'Deleting') startDelete(group);
    }
  });

  return [
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/resourceGroups$/i,
      handler: async (request) => {
        requireApiVersion(request);
        const subscription = subscriptionOf(ctx, request);
        return { status: 200, body: { value: ctx.store.resourceGroups.list(subscription.id).map(view) } };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/subscriptions/(?<subscriptionId>[^/]+)/resourceGroups/${RG}$`, 'i'),
      handler: async (request) => {
        requireApiVersion(request);
        const group = resourceGroupOf(ctx, request);
        // HEAD answers 204 / 404 with no body (`az group exists`).
        return request.method === 'HEAD' ? { status: 204 } : { status: 200, body: view(group) };
      },
    },
    {
      method: 'PUT',
      pattern: new RegExp(`^/subscriptions/(?<subscriptionId>[^/]+)/resourceGroups/${RG}$`, 'i'),
      handler: async (request) => {
        requireApiVersion(request);
        const subscription = subscriptionOf(ctx, request);
        const name = request.params.resourceGroup!;
        if (!RG_NAME.test(name) || name.endsWith('.')) throw apiError('InvalidResourceGroupName', { name });
        const body = jsonBody(request) ?? {};
        if (typeof body.location !== 'string' || !body.location) throw apiError('LocationRequired');
        const existing = ctx.store.resourceGroups.get(subscription.id, name);
        if (existing?.provisioningState === 'Deleting')
          throw apiError('ResourceGroupBeingDeleted', { resourceGroup: existing.name });
        const location = normaliseLocation(body.location);
        if (existing && existing.location !== location) {
          throw apiError('InvalidResourceLocation', { name, existing: existing.location, requested: location });
        }
        const group: ResourceGroup = {
          subscriptionId: subscription.id,
          name: existing?.name ?? name,
          location,
          tags: tagsOf(body.tags),
          managedBy: typeof body.managedBy === 'string' ? body.managedBy : undefined,
          provisioningState: 'Succeeded',
        };
        ctx.store.resourceGroups.put(group);
        return { status: existing ? 200 : 201, body: view(group) };
      },
    },
    {
      method: 'PATCH',
      pattern: new RegExp(`^/subscriptions/(?<subscriptionId>[^/]+)/resourceGroups/${RG}$`, 'i'),
      handler: async (request) => {
        requireApiVersion(request);
        const group = resourceGroupOf(ctx, request);
        const body = jsonBody(request) ?? {};
        const updated: ResourceGroup = {
          ...group,
          ...(body.tags !== undefined ? { tags: tagsOf(body.tags) } : {}),
          ...(typeof body.managedBy === 'string' ? { managedBy: body.managedBy } : {}),
        };
        ctx.store.resourceGroups.put(updated);
        return { status: 200, body: view(updated) };
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/subscriptions/(?<subscriptionId>[^/]+)/resourceGroups/${RG}$`, 'i'),
      handler: async (request) => {
        const version = requireApiVersion(request);
        const group = resourceGroupOf(ctx, request);
        const token = startDelete(group);
        return {
          status: 202,
          headers: {
            location: operationUrl(group.subscriptionId, token, version),
            'retry-after': String(ctx.retryAfterSeconds),
          },
        };
      },
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/operationresults\/(?<token>[^/]+)$/i,
      handler: async (request: ArmRequest) => {
        const version = requireApiVersion(request);
        const subscription = subscriptionOf(ctx, request);
        const token = request.params.token!;
        const operation = operations.get(token);
        const running = {
          status: 202,
          headers: {
            location: operationUrl(subscription.id, token, version),
            'retry-after': String(ctx.retryAfterSeconds),
          },
        };
        if (!operation) {
          // Not known in memory (e.g. after a restart): the group's existence tells the outcome.
          let target: { g?: string };
          try {
            target = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { g?: string };
          } catch {
            throw apiError('OperationNotFound', { operationId: token });
          }
          return target.g && ctx.store.resourceGroups.get(subscription.id, target.g) ? running : { status: 200 };
        }
        if (operation.status === 'Running') return running;
        if (operation.status === 'Failed') return { status: 409, body: { error: operation.error } };
        return { status: 200 };
      },
    },
  ];
}

function tagsOf(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  return validTags(tags);
}

/** Deletes what the group holds: MQ resources through the RP (retrying refusals while progress is made [DEL-4]), then the FD's own. */
async function cascadeDelete(ctx: ArmContext, group: ResourceGroup): Promise<void> {
  const base = `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}`;
  const ids = new Map<string, string>();
  if (ctx.store.registrations.get(group.subscriptionId, PROVIDER_NAMESPACE) === 'Registered') {
    let next: string | undefined = `${base}/providers/${PROVIDER_NAMESPACE}/mq?api-version=${API_VERSION}`;
    while (next) {
      const page = await ctx.rp.json('GET', next);
      if (page.status !== 200)
        throw Object.assign(new Error('listing failed'), { body: errorOf(page.body, page.status) });
      for (const item of page.body.value as { id: string }[]) ids.set(item.id.toLowerCase(), item.id);
      next = page.body.nextLink
        ? new URL(page.body.nextLink as string).pathname + new URL(page.body.nextLink as string).search
        : undefined;
    }
  }
  for (const resource of ctx.store.resources.list(group.subscriptionId, group.name)) {
    if (resource.owner === 'rp') ids.set(resource.id.toLowerCase(), resource.id);
  }
  // Roots first: the RP deletes a resource with its descendants, so only resources whose parent is
  // not itself pending are deleted; the rest are then looked up and are usually gone already.
  let pending = [...ids.values()];
  while (pending.length > 0) {
    const lower = new Set(pending.map((id) => id.toLowerCase()));
    const isRoot = (id: string) => {
      for (let parent = parentIdOf(id); parent; parent = parentIdOf(parent))
        if (lower.has(parent.toLowerCase())) return false;
      return true;
    };
    const roots = pending.filter(isRoot);
    const results = await Promise.all(
      roots.map(async (id) => {
        const path = `${id}?api-version=${API_VERSION}`;
        const first = await ctx.rp.json('DELETE', path);
        if (first.status === 409) return { id, done: false, error: errorOf(first.body, 409), fatal: false };
        const outcome = await followOperation(ctx.rp, first, path, {
          method: 'DELETE',
          signal: ctx.signal,
          maxPollMs: ctx.maxPollMs,
        });
        if (outcome.status === 'Succeeded') ctx.store.resources.deleteTree(id);
        return {
          id,
          done: outcome.status === 'Succeeded',
          error: outcome.error,
          fatal: outcome.status !== 'Succeeded',
        };
      }),
    );
    const fatal = results.find((r) => r.fatal);
    if (fatal)
      throw Object.assign(new Error('delete failed'), {
        body: {
          code: 'ResourceGroupDeletionBlocked',
          message: `Deleting '${fatal.id}' failed.`,
          details: fatal.error ? [fatal.error] : [],
        },
      });
    const remaining: string[] = [];
    for (const id of pending.filter((p) => !isRoot(p))) {
      const found = await ctx.rp.json('GET', `${id}?api-version=${API_VERSION}`);
      if (found.status === 404) ctx.store.resources.deleteTree(id);
      else remaining.push(id);
    }
    const refused = results.filter((r) => !r.done);
    if (refused.length === roots.length && remaining.length + refused.length === pending.length) {
      const lastError = refused[0]?.error;
      throw Object.assign(new Error('no progress'), {
        body: {
          code: 'ResourceGroupDeletionBlocked',
          message: 'Resources in the group refused deletion.',
          details: lastError ? [lastError] : [],
        },
      });
    }
    pending = [...refused.map((r) => r.id), ...remaining];
  }
  // The FD's own resources: custom locations before the clusters they are hosted on.
  const own = ctx.store.resources.list(group.subscriptionId, group.name).sort((a, b) => b.id.length - a.id.length);
  for (const resource of own) ctx.store.resources.deleteTree(resource.id);
  for (const deployment of ctx.store.deployments.list(group.subscriptionId, group.name))
    ctx.store.deployments.delete(deployment.id);
  ctx.store.resourceGroups.delete(group.subscriptionId, group.name);
}
