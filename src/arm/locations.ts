/** The regions the local cloud offers: names as ARM normalises them, and their display names. */
export const LOCATIONS: readonly { name: string; displayName: string }[] = [
  { name: 'eastus', displayName: 'East US' },
  { name: 'eastus2', displayName: 'East US 2' },
  { name: 'westus', displayName: 'West US' },
  { name: 'westus2', displayName: 'West US 2' },
  { name: 'westus3', displayName: 'West US 3' },
  { name: 'northeurope', displayName: 'North Europe' },
  { name: 'westeurope', displayName: 'West Europe' },
];

export function normaliseLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

/**
 * Regions where the MQ provider's resource types are registered: what its provider document lists
 * per resource type (RES-4) and what the front door holds a PUT's location against (SHAPE-3).
 * Every local region today; one list so the two can never disagree.
 */
export function mqLocations(_resourceType: string): readonly { name: string; displayName: string }[] {
  return LOCATIONS;
}
