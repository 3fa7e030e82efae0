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

/**
 * Remembers lookups for `ttlMs`: the agent API asks for a cluster's scope on every feed connection
 * and status report, and asking ARM each time would put an HTTP round trip on each. Misses are not
 * remembered, so a custom location created a moment ago is found at once.
 */
export function cachedCustomLocations(directory: CustomLocationDirectory, ttlMs = 30_000): CustomLocationDirectory {
  const byId = new Map<string, { value: CustomLocation; until: number }>();
  const byCluster = new Map<string, { value: Promise<CustomLocation[]>; until: number }>();
  return {
    async get(id) {
      const key = id.toLowerCase();
      const hit = byId.get(key);
      if (hit && hit.until > Date.now()) return hit.value;
      const value = await directory.get(id);
      if (value) byId.set(key, { value, until: Date.now() + ttlMs });
      return value;
    },
    forCluster(clusterId) {
      const key = clusterId.toLowerCase();
      const hit = byCluster.get(key);
      if (hit && hit.until > Date.now()) return hit.value;
      const value = directory.forCluster(clusterId);
      byCluster.set(key, { value, until: Date.now() + ttlMs });
      value.catch(() => byCluster.delete(key)); // a failed lookup is retried next time
      return value;
    },
  };
}
