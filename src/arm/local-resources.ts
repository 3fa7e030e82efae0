import { randomUUID } from 'node:crypto';
import { apiError } from '../common/errors.js';
import { validTags } from '../rp/resource-body.js';
import {
  armTimestamp,
  checkLinkedAccess,
  jsonBody,
  requireApiVersion,
  resourceGroupOf,
  subscriptionOf,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context.js';
import { normaliseLocation } from './locations.js';
import type { JsonBody } from './rp-client.js';
import type { Route } from './router.js';

export const CONNECTED_CLUSTER_TYPE = 'Microsoft.Kubernetes/connectedClusters';
export const CUSTOM_LOCATION_TYPE = 'Microsoft.ExtendedLocation/customLocations';
const NAME = /^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The two Azure resource types MQ builds on, served by the front door itself (no RP of their own
 * here): Arc connected clusters and custom locations (hostResourceId → a connected cluster,
 * namespace on it). The RP looks custom locations up through this surface with the Azure SDK.
 */
export function localResourceRoutes(ctx: ArmContext): Route[] {
  const routes: Route[] = [];
  for (const [type, validate] of [
    [CONNECTED_CLUSTER_TYPE, connectedClusterProperties],
    [CUSTOM_LOCATION_TYPE, (request: ArmRequest, body: JsonBody) => customLocationProperties(ctx, request, body)],
  ] as const) {
    const [namespace, typeName] = type.split('/') as [string, string];
    const prefix = `^/subscriptions/(?<subscriptionId>[^/]+)/resourceGroups/(?<resourceGroup>[^/]+)/providers/${namespace.replace('.', '\\.')}/${typeName}`;
    const idOf = (request: ArmRequest, group: { subscriptionId: string; name: string }) =>
      `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}/providers/${type}/${request.params.name}`;

    routes.push(
      {
        method: 'GET',
        pattern: new RegExp(`${prefix}$`, 'i'),
        handler: async (request) => {
          requireApiVersion(request);
          const group = resourceGroupOf(ctx, request);
          const value = ctx.store.resources
            .list(group.subscriptionId, group.name)
            .filter((r) => r.owner === 'local' && r.body.type === type)
            .map((r) => r.body);
          return { status: 200, body: { value } };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(
          `^/subscriptions/(?<subscriptionId>[^/]+)/providers/${namespace.replace('.', '\\.')}/${typeName}$`,
          'i',
        ),
        handler: async (request) => {
          requireApiVersion(request);
          const subscription = subscriptionOf(ctx, request);
          const value = ctx.store.resources
            .list(subscription.id)
            .filter((r) => r.owner === 'local' && r.body.type === type)
            .map((r) => r.body);
          return { status: 200, body: { value } };
        },
      },
      {
        method: ['GET', 'PUT', 'PATCH', 'DELETE'],
        pattern: new RegExp(`${prefix}/(?<name>[^/]+)$`, 'i'),
        handler: async (request): Promise<ArmResponse> => {
          requireApiVersion(request);
          const group = resourceGroupOf(ctx, request);
          const id = idOf(request, group);
          const existing = ctx.store.resources.get(id);
          const notFound = () =>
            apiError('ResourceNotFound', { type, name: request.params.name!, resourceGroup: group.name });
          switch (request.method) {
            case 'GET':
            case 'HEAD':
              if (!existing) throw notFound();
              return {
                status: request.method === 'HEAD' ? 204 : 200,
                body: request.method === 'HEAD' ? undefined : existing.body,
              };
            case 'DELETE':
              if (!existing) return { status: 204 };
              ctx.store.resources.deleteTree(id);
              return { status: 200 };
            case 'PATCH': {
              if (!existing) throw notFound();
              const body = jsonBody(request) ?? {};
              const updated = { ...existing.body, ...(body.tags !== undefined ? { tags: validTags(body.tags) } : {}) };
              ctx.store.resources.put({ id: existing.id, owner: 'local', body: updated });
              return { status: 200, body: updated };
            }
            default: {
              if (group.provisioningState === 'Deleting')
                throw apiError('ResourceGroupBeingDeleted', { resourceGroup: group.name });
              const name = request.params.name!;
              if (!NAME.test(name)) throw apiError('InvalidResourceName', { name, pattern: NAME.source });
              const body = jsonBody(request) ?? {};
              if (typeof body.location !== 'string' || !body.location) throw apiError('LocationRequired');
              const location = normaliseLocation(body.location);
              const previous = existing?.body as
                | { location?: string; systemData?: Record<string, string>; identity?: Record<string, string> }
                | undefined;
              if (previous?.location && previous.location !== location) {
                throw apiError('InvalidResourceLocation', { name, existing: previous.location, requested: location });
              }
              const now = armTimestamp();
              const caller = request.caller;
              const resource: Record<string, unknown> = {
                id: existing?.id ?? id,
                name: (existing?.body.name as string | undefined) ?? name,
                type,
                location,
                ...(body.tags ? { tags: validTags(body.tags) } : {}),
                ...(type === CONNECTED_CLUSTER_TYPE
                  ? {
                      identity: previous?.identity ?? {
                        type: 'SystemAssigned',
                        principalId: randomUUID(),
                        tenantId: caller.tenantId,
                      },
                    }
                  : {}),
                systemData: {
                  createdBy: previous?.systemData?.createdBy ?? caller.principalName,
                  createdByType: previous?.systemData?.createdByType ?? caller.principalType,
                  createdAt: previous?.systemData?.createdAt ?? now,
                  lastModifiedBy: caller.principalName,
                  lastModifiedByType: caller.principalType,
                  lastModifiedAt: now,
                },
                properties: { ...validate(request, body), provisioningState: 'Succeeded' },
              };
              ctx.store.resources.put({ id: resource.id as string, owner: 'local', body: resource });
              return { status: existing ? 200 : 201, body: resource };
            }
          }
        },
      },
    );
  }
  return routes;
}

function connectedClusterProperties(_request: ArmRequest, body: JsonBody): Record<string, unknown> {
  const p = (body.properties ?? {}) as Record<string, unknown>;
  return {
    agentPublicKeyCertificate: typeof p.agentPublicKeyCertificate === 'string' ? p.agentPublicKeyCertificate : '',
    distribution: typeof p.distribution === 'string' ? p.distribution : 'generic',
    infrastructure: typeof p.infrastructure === 'string' ? p.infrastructure : 'generic',
    kubernetesVersion: typeof p.kubernetesVersion === 'string' ? p.kubernetesVersion : undefined,
    connectivityStatus: 'Connected',
  };
}

function customLocationProperties(ctx: ArmContext, request: ArmRequest, body: JsonBody): Record<string, unknown> {
  const p = (body.properties ?? {}) as Record<string, unknown>;
  if (typeof p.hostResourceId !== 'string')
    throw apiError(
      'BadRequest',
      { message: "'properties.hostResourceId' is required." },
      { target: 'properties.hostResourceId' },
    );
  // Before looking the cluster up: whether another tenant's cluster exists is not the caller's business.
  checkLinkedAccess(ctx, request, p.hostResourceId, `${CONNECTED_CLUSTER_TYPE}/read`);
  const host = ctx.store.resources.get(p.hostResourceId);
  if (!host || host.body.type !== CONNECTED_CLUSTER_TYPE) {
    throw apiError(
      'BadRequest',
      { message: `The host resource '${p.hostResourceId}' is not an existing connected cluster.` },
      { target: 'properties.hostResourceId' },
    );
  }
  if (typeof p.namespace !== 'string' || !NAMESPACE.test(p.namespace)) {
    throw apiError(
      'BadRequest',
      { message: "'properties.namespace' must be a Kubernetes namespace name." },
      { target: 'properties.namespace' },
    );
  }
  return {
    hostResourceId: host.id,
    namespace: p.namespace,
    hostType: 'Kubernetes',
    displayName: typeof p.displayName === 'string' ? p.displayName : undefined,
    clusterExtensionIds: Array.isArray(p.clusterExtensionIds) ? p.clusterExtensionIds : [],
    authentication: {},
  };
}
