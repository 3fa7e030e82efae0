import { parentIdOf, parseArmId as parseId } from '../api/arm-id.js';
import { StoreUsageError } from './errors.js';

/** The parts of an ARM resource id the store indexes, all lower-cased. */
export interface ArmIdParts {
  subscriptionId: string;
  resourceGroup: string | null;
  /** Id of the parent resource, or null at top level (`…/providers/NS/type/name`). */
  parentKey: string | null;
}

/**
 * What the store indexes of an id (src/api/arm-id.ts parses it). Only what the store needs; the RP
 * validates ids against its type registry before they get here.
 */
export function parseArmId(id: string): ArmIdParts {
  const lower = id.toLowerCase();
  const parts = parseId(lower);
  if (!parts) throw new StoreUsageError(`Not an ARM resource id: '${id}'`);
  return {
    subscriptionId: parts.subscriptionId,
    resourceGroup: parts.resourceGroup ?? null,
    parentKey: parentIdOf(lower) ?? null,
  };
}
