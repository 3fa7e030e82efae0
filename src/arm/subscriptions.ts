import type { ArmContext, ArmRequest, ArmResponse } from './context.js';
import { subscriptionOf } from './context.js';
import { LOCATIONS } from './locations.js';
import type { Route } from './router.js';
import type { Subscription } from './store.js';

/** Tenants, subscriptions and locations [RES-2]: what `az login` lists and `az account` shows. */
export function subscriptionRoutes(ctx: ArmContext): Route[] {
  const view = (s: Subscription) => ({
    id: `/subscriptions/${s.id}`,
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: s.id,
    tenantId: s.tenantId,
    displayName: s.displayName,
    state: s.state,
    subscriptionPolicies: {
      locationPlacementId: 'Public_2014-09-01',
      quotaId: 'PayAsYouGo_2014-09-01',
      spendingLimit: 'Off',
    },
  });
  return [
    {
      method: 'GET',
      pattern: /^\/tenants$/i,
      handler: async (request: ArmRequest): Promise<ArmResponse> => {
        const tenant = ctx.store.tenants.get(request.caller.tenantId);
        const value = tenant
          ? [
              {
                id: `/tenants/${tenant.id}`,
                tenantId: tenant.id,
                tenantCategory: 'Home',
                displayName: tenant.displayName,
                defaultDomain: `${tenant.id}.iotmq.local`,
                domains: [],
              },
            ]
          : [];
        return { status: 200, body: { value } };
      },
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions$/i,
      // Only the caller's tenant's subscriptions, as ARM's RBAC would show them.
      handler: async (request) => ({
        status: 200,
        body: {
          value: ctx.store.subscriptions
            .list()
            .filter((s) => s.tenantId === request.caller.tenantId)
            .map(view),
        },
      }),
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)$/i,
      handler: async (request) => ({ status: 200, body: view(subscriptionOf(ctx, request)) }),
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/locations$/i,
      handler: async (request) => {
        const subscription = subscriptionOf(ctx, request);
        const value = LOCATIONS.map((l) => ({
          id: `/subscriptions/${subscription.id}/locations/${l.name}`,
          name: l.name,
          displayName: l.displayName,
          regionalDisplayName: `(Local) ${l.displayName}`,
          metadata: { regionType: 'Physical', regionCategory: 'Recommended' },
        }));
        return { status: 200, body: { value } };
      },
    },
  ];
}
