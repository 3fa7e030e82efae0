import type { TokenCredential } from '@azure/core-auth';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { CustomLocation, CustomLocationDirectory } from '../rp/index.js';
import { caTrustOptions } from './ca-trust.js';

/** The api-version of Microsoft.ExtendedLocation/customLocations the RP reads. */
export const CUSTOM_LOCATION_API_VERSION = '2021-08-15';
const CUSTOM_LOCATION_TYPE = 'Microsoft.ExtendedLocation/customLocations';

export interface ArmCustomLocationsOptions {
  /** ARM's base URL (`https://host:port`). */
  endpoint: string;
  /** The RP's own identity towards ARM. */
  credential: TokenCredential;
  /** Extra CA to trust (the dev CA); omit for a publicly trusted ARM. */
  caPem?: string;
}

/**
 * The RP's view of custom locations, read from ARM with the Azure SDK exactly as the real RP would:
 * `resources.getById(id, '2021-08-15')`, and for a cluster's feed scope a `$filter`ed
 * subscription listing followed by a GET of each (listings carry no properties).
 */
export function createArmCustomLocations(options: ArmCustomLocationsOptions): CustomLocationDirectory {
  const clients = new Map<string, ResourceManagementClient>();
  const clientFor = (subscriptionId: string) => {
    let client = clients.get(subscriptionId.toLowerCase());
    if (!client) {
      client = new ResourceManagementClient(options.credential, subscriptionId, {
        endpoint: options.endpoint,
        credentialScopes: ['https://management.azure.com/.default'],
        ...(options.caPem ? caTrustOptions(options.caPem) : {}),
      });
      clients.set(subscriptionId.toLowerCase(), client);
    }
    return client;
  };
  const subscriptionOf = (id: string) => /^\/subscriptions\/([^/]+)/i.exec(id)?.[1];

  const get = async (id: string): Promise<CustomLocation | undefined> => {
    const subscriptionId = subscriptionOf(id);
    if (!subscriptionId) return undefined;
    try {
      const resource = await clientFor(subscriptionId).resources.getById(id, CUSTOM_LOCATION_API_VERSION);
      if (resource.type?.toLowerCase() !== CUSTOM_LOCATION_TYPE.toLowerCase()) return undefined;
      const properties = (resource.properties ?? {}) as { hostResourceId?: string; namespace?: string };
      if (!properties.hostResourceId || !properties.namespace) return undefined;
      return { id: resource.id ?? id, hostResourceId: properties.hostResourceId, namespace: properties.namespace };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  };

  return {
    get,
    async forCluster(clusterId) {
      const subscriptionId = subscriptionOf(clusterId);
      if (!subscriptionId) return [];
      const found: CustomLocation[] = [];
      for await (const item of clientFor(subscriptionId).resources.list({
        filter: `resourceType eq '${CUSTOM_LOCATION_TYPE}'`,
      })) {
        if (!item.id) continue;
        const location = await get(item.id);
        if (location && location.hostResourceId.toLowerCase() === clusterId.toLowerCase()) found.push(location);
      }
      return found;
    },
  };
}
