// ARM resource ids: the one parser and formatter of the project. An id is how every part names a
// resource — the front door's index, the RP and its store, the agent (annotations, CR names):
//   /subscriptions/{s}[/resourceGroups/{rg}]/providers/{Namespace}/{type}/{name}[/{type}/{name}]…
// Parsing keeps the caller's casing (ARM ids compare case-insensitively: lower-case to compare).

export interface ArmId {
  subscriptionId: string;
  /** Absent for a subscription-level resource. */
  resourceGroup?: string;
  /** Resource provider namespace, e.g. `Microsoft.IoTOperationsMQ`. */
  namespace: string;
  /** Type segments under the namespace, outermost first, e.g. `['mq', 'broker']`. */
  types: string[];
  /** One name per type segment. */
  names: string[];
}

/** The parts of a resource id; undefined for anything that is not one (a collection, a scope, junk). */
export function parseArmId(id: string): ArmId | undefined {
  const s = id.split('/');
  // A leading '/' gives an empty first segment; an empty segment elsewhere is malformed.
  if (s[0] !== '' || s[1]?.toLowerCase() !== 'subscriptions' || s.some((part, i) => i > 0 && part === '')) return;
  const subscriptionId = s[2];
  if (!subscriptionId) return;
  let at = 3;
  let resourceGroup: string | undefined;
  if (s[at]?.toLowerCase() === 'resourcegroups') {
    resourceGroup = s[at + 1];
    if (!resourceGroup) return;
    at += 2;
  }
  const namespace = s[at + 1];
  if (s[at]?.toLowerCase() !== 'providers' || !namespace) return;
  const rest = s.slice(at + 2);
  if (rest.length < 2 || rest.length % 2 !== 0) return;
  return {
    subscriptionId,
    resourceGroup,
    namespace,
    types: rest.filter((_, i) => i % 2 === 0),
    names: rest.filter((_, i) => i % 2 === 1),
  };
}

/** The id of the parts (the inverse of parseArmId). */
export function formatArmId(id: ArmId): string {
  const group = id.resourceGroup === undefined ? '' : `/resourceGroups/${id.resourceGroup}`;
  const pairs = id.types.map((type, i) => `${type}/${id.names[i]}`).join('/');
  return `/subscriptions/${id.subscriptionId}${group}/providers/${id.namespace}/${pairs}`;
}

function parse(id: string): ArmId {
  const parts = parseArmId(id);
  if (!parts) throw new Error(`Not an ARM resource id: '${id}'`);
  return parts;
}

/** `Microsoft.IoTOperationsMQ/mq/broker` for an id of a broker; '' for what is not a resource id. */
export function armTypeOf(id: string): string {
  const parts = parseArmId(id);
  return parts ? [parts.namespace, ...parts.types].join('/') : '';
}

/** The id of the resource a nested resource belongs to; undefined at top level. */
export function parentIdOf(id: string): string | undefined {
  if (parse(id).types.length < 2) return undefined;
  return id.split('/').slice(0, -2).join('/'); // the caller's text, casing and all
}

/** The resource's own name (the last name segment). */
export function resourceNameOf(id: string): string {
  return parse(id).names.at(-1)!;
}
