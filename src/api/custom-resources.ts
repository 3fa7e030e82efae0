/**
 * How API resources appear on a cluster: one namespaced custom resource per ARM resource, of
 * group `mq.iotoperations.azure.com`, version `v1beta1`, kind = the resource type's tag; its
 * `spec` is the ARM `properties` object with the same field names.
 */
export const CR_GROUP = 'mq.iotoperations.azure.com';
export const CR_VERSION = 'v1beta1';
export const CR_API_VERSION = `${CR_GROUP}/${CR_VERSION}`;

export function crPlural(kind: string): string {
  return `${kind.toLowerCase()}s`;
}

/** The custom resource type of a kind, as a cluster client addresses it (namespaced, plural). */
export function crObjectType(kind: string): { apiVersion: string; kind: string; plural: string; namespaced: true } {
  return { apiVersion: CR_API_VERSION, kind, plural: crPlural(kind), namespaced: true };
}

export function crdName(kind: string): string {
  return `${crPlural(kind)}.${CR_GROUP}`;
}
