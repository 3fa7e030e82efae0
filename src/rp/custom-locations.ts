/** A `Microsoft.ExtendedLocation/customLocations` resource, as far as the RP cares. */
export interface CustomLocation {
  id: string;
  /** The connected cluster it maps to (`Microsoft.Kubernetes/connectedClusters/...`). */
  hostResourceId: string;
  /** Namespace on that cluster where the resources become custom resources. */
  namespace: string;
}

/**
 * Where the RP looks up custom locations. In Azure (and with the local ARM stand-in) this is ARM
 * itself, asked through the Azure SDK; a fixed list serves tests of the RP on its own.
 */
export interface CustomLocationDirectory {
  get(customLocationId: string): Promise<CustomLocation | undefined>;
  /** The custom locations hosted on a cluster: the scope of that cluster's agent feed. */
  forCluster(clusterId: string): Promise<CustomLocation[]>;
}

export function createFixedCustomLocations(locations: CustomLocation[]): CustomLocationDirectory {
  return {
    async get(id) {
      return locations.find((l) => l.id.toLowerCase() === id.toLowerCase());
    },
    async forCluster(clusterId) {
      return locations.filter((l) => l.hostResourceId.toLowerCase() === clusterId.toLowerCase());
    },
  };
}

const CUSTOM_LOCATION_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ExtendedLocation\/customLocations\/[^/]+$/i;

export function isCustomLocationId(id: string): boolean {
  return CUSTOM_LOCATION_ID.test(id);
}
