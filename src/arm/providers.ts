import { API_VERSION, PROVIDER_NAMESPACE } from '../api/openapi.js';
import { apiError } from '../common/errors.js';
import { subscriptionOf, type ArmContext, type ArmRequest, type ArmResponse } from './context.js';
import { LOCATIONS, mqLocations } from './locations.js';
import type { Route } from './router.js';

/** Namespaces the front door serves itself: always registered. */
const BUILT_IN: Record<string, { resourceType: string; apiVersions: string[] }[]> = {
  'Microsoft.Resources': [
    { resourceType: 'resourceGroups', apiVersions: ['2024-03-01', '2022-09-01', '2021-04-01'] },
    { resourceType: 'deployments', apiVersions: ['2024-03-01', '2022-09-01', '2021-04-01'] },
    { resourceType: 'deployments/operations', apiVersions: ['2024-03-01', '2022-09-01', '2021-04-01'] },
    { resourceType: 'subscriptions', apiVersions: ['2022-12-01', '2021-01-01'] },
    { resourceType: 'tenants', apiVersions: ['2022-12-01', '2021-01-01'] },
  ],
  'Microsoft.Kubernetes': [{ resourceType: 'connectedClusters', apiVersions: ['2024-01-01', '2021-10-01'] }],
  'Microsoft.ExtendedLocation': [
    { resourceType: 'customLocations', apiVersions: ['2021-08-31-preview', '2021-08-15'] },
  ],
};

/**
 * Resource providers and their registration per subscription [RES-4, SUB-6]. Registering
 * Microsoft.IoTOperationsMQ sends the RP the subscription lifecycle notification
 * (`PUT /subscriptions/{id}?api-version=2.0`, state Registered) before the state flips.
 */
export function providerRoutes(ctx: ArmContext): Route[] {
  const mqTypes = () => [
    ...ctx.registry.types.map((t) => ({
      resourceType: t.segments.join('/'),
      locations: mqLocations(t.segments.join('/')).map((l) => l.displayName),
      apiVersions: [API_VERSION],
      capabilities: 'SupportsTags, SupportsLocation',
    })),
    ...['locations', 'locations/operationStatuses', 'locations/operationResults', 'operations'].map((resourceType) => ({
      resourceType,
      locations: [],
      apiVersions: [API_VERSION],
    })),
  ];
  const view = (namespace: string, subscriptionId: string | undefined) => {
    const builtIn = Object.keys(BUILT_IN).find((n) => n.toLowerCase() === namespace.toLowerCase());
    if (builtIn) {
      return {
        id: `${subscriptionId ? `/subscriptions/${subscriptionId}` : ''}/providers/${builtIn}`,
        namespace: builtIn,
        registrationState: 'Registered',
        registrationPolicy: 'RegistrationFree',
        resourceTypes: BUILT_IN[builtIn]!.map((t) => ({ ...t, locations: LOCATIONS.map((l) => l.displayName) })),
      };
    }
    if (namespace.toLowerCase() !== PROVIDER_NAMESPACE.toLowerCase()) return undefined;
    return {
      id: `${subscriptionId ? `/subscriptions/${subscriptionId}` : ''}/providers/${PROVIDER_NAMESPACE}`,
      namespace: PROVIDER_NAMESPACE,
      ...(subscriptionId ? { registrationState: ctx.store.registrations.get(subscriptionId, PROVIDER_NAMESPACE) } : {}),
      registrationPolicy: 'RegistrationRequired',
      resourceTypes: mqTypes(),
    };
  };
  const one = (namespace: string, subscriptionId?: string) => {
    const provider = view(namespace, subscriptionId);
    if (!provider) throw apiError('InvalidResourceNamespace', { namespace });
    return provider;
  };

  const register = async (request: ArmRequest, state: 'Registered' | 'Unregistered'): Promise<ArmResponse> => {
    const subscription = subscriptionOf(ctx, request);
    const namespace = request.params.namespace!;
    one(namespace, subscription.id);
    if (namespace.toLowerCase() === PROVIDER_NAMESPACE.toLowerCase()) {
      const notification = await ctx.rp.json('PUT', `/subscriptions/${subscription.id}?api-version=2.0`, {
        state,
        registrationDate: new Date().toUTCString(),
        properties: {
          tenantId: subscription.tenantId,
          locationPlacementId: 'Public_2014-09-01',
          quotaId: 'PayAsYouGo_2014-09-01',
          registeredFeatures: [],
          additionalProperties: { resourceProviderProperties: { resourceProviderNamespace: PROVIDER_NAMESPACE } },
        },
      });
      if (notification.status !== 200 && notification.status !== 202) {
        ctx.log.error(
          { status: notification.status, subscriptionId: subscription.id },
          'subscription notification refused by the RP',
        );
        throw apiError('InternalServerError', { correlationId: request.correlationId });
      }
      ctx.store.registrations.put(
        subscription.id,
        PROVIDER_NAMESPACE,
        state === 'Registered' ? 'Registered' : 'NotRegistered',
      );
      ctx.log.info({ subscriptionId: subscription.id, state }, 'provider registration changed');
    }
    return { status: 200, body: one(namespace, subscription.id) };
  };

  return [
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/providers$/i,
      handler: async (request) => {
        const subscription = subscriptionOf(ctx, request);
        return {
          status: 200,
          body: { value: [...Object.keys(BUILT_IN), PROVIDER_NAMESPACE].map((n) => view(n, subscription.id)) },
        };
      },
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/providers\/(?<namespace>[^/]+)$/i,
      handler: async (request) => ({
        status: 200,
        body: one(request.params.namespace!, subscriptionOf(ctx, request).id),
      }),
    },
    {
      method: 'POST',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/providers\/(?<namespace>[^/]+)\/register$/i,
      handler: (request) => register(request, 'Registered'),
    },
    {
      method: 'POST',
      pattern: /^\/subscriptions\/(?<subscriptionId>[^/]+)\/providers\/(?<namespace>[^/]+)\/unregister$/i,
      handler: (request) => register(request, 'Unregistered'),
    },
    {
      method: 'GET',
      pattern: /^\/providers$/i,
      handler: async () => ({
        status: 200,
        body: { value: [...Object.keys(BUILT_IN), PROVIDER_NAMESPACE].map((n) => view(n, undefined)) },
      }),
    },
    {
      method: 'GET',
      pattern: /^\/providers\/(?<namespace>[^/]+)$/i,
      handler: async (request) => ({ status: 200, body: one(request.params.namespace!) }),
    },
  ];
}
