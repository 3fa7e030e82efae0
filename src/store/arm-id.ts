import { StoreUsageError } from './errors.js';

/** The parts of an ARM resource id the store indexes, all lower-cased. */
export interface ArmIdParts {
  subscriptionId: string;
  resourceGroup: string | null;
  /** Id of the parent resource, or null at top level (`…/providers/NS/type/name`). */
  parentKey: string | null;
}

/**
 * Parses `/subscriptions/{sub}[/resourceGroups/{rg}]/providers/{NS}/{type}/{name}[/{type}/{name}]…`.
 * Only what the store needs; the RP validates ids against its type registry before they get here.
 */
export function parseArmId(id: string): ArmIdParts {
  const segments = id.toLowerCase().split('/');
  // A leading '/' gives an empty first segment; a trailing one is malformed.
  if (
    segments[0] !== '' ||
    segments[1] !== 'subscriptions' ||
    !segments[2] ||
    segments.some((s, i) => i > 0 && s === '')
  ) {
    throw new StoreUsageError(`Not an ARM resource id: '${id}'`);
  }
  let i = 3;
  let resourceGroup: string | null = null;
  if (segments[i] === 'resourcegroups') {
    resourceGroup = segments[i + 1] ?? null;
    if (!resourceGroup) throw new StoreUsageError(`Not an ARM resource id: '${id}'`);
    i += 2;
  }
  if (segments[i] !== 'providers' || !segments[i + 1]) throw new StoreUsageError(`Not an ARM resource id: '${id}'`);
  const typeAndNames = segments.slice(i + 2);
  if (typeAndNames.length < 2 || typeAndNames.length % 2 !== 0) {
    throw new StoreUsageError(`Not an ARM resource id: '${id}'`);
  }
  const parentKey = typeAndNames.length > 2 ? segments.slice(0, -2).join('/') : null;
  return { subscriptionId: segments[2], resourceGroup, parentKey };
}
