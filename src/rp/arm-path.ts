import { formatArmId } from '../api/arm-id.js';
import { PROVIDER_NAMESPACE } from '../api/openapi.js';
import type { ResourceType, ResourceTypeRegistry } from '../api/registry.js';
import { apiError } from '../common/errors.js';

/** What an RP request path addresses. Names keep the caller's casing; literals are canonical. */
export type ArmRoute =
  | { kind: 'operations' }
  | { kind: 'subscription'; subscriptionId: string }
  | { kind: 'operationStatus' | 'operationResult'; subscriptionId: string; location: string; operationId: string }
  | { kind: 'resource'; type: ResourceType; subscriptionId: string; resourceGroup: string; names: string[]; id: string }
  | {
      kind: 'collection';
      type: ResourceType;
      subscriptionId: string;
      /** Absent for the subscription-wide list. */
      resourceGroup?: string;
      /** The parent resource id for a nested collection. */
      parentId?: string;
    };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RESOURCE_GROUP = /^[-\w.()]{1,90}$/u;
const NAMESPACE = PROVIDER_NAMESPACE.toLowerCase();

/**
 * Splits a URL path into decoded segments, tolerating the noise ARM clients send (`//`, a
 * trailing `/`). Matching is case-insensitive for every segment [ID-2].
 */
export function pathSegments(path: string): string[] {
  return path
    .split('?')[0]!
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw apiError('InvalidResourceName', { name: s, pattern: 'of a percent-encoded URL segment' });
      }
    });
}

/** Parses an RP path against the resource-type registry; undefined when it is no RP path at all. */
export function parseArmPath(path: string, registry: ResourceTypeRegistry): ArmRoute | undefined {
  const s = pathSegments(path);
  const lower = s.map((x) => x.toLowerCase());
  if (lower.length === 3 && lower[0] === 'providers' && lower[1] === NAMESPACE && lower[2] === 'operations') {
    return { kind: 'operations' };
  }
  if (lower[0] !== 'subscriptions' || s.length < 2) return undefined;
  const subscriptionId = s[1]!;
  if (s.length === 2) return { kind: 'subscription', subscriptionId: checkSubscription(subscriptionId) };
  checkSubscription(subscriptionId);

  // /subscriptions/{s}/providers/NS/locations/{loc}/operationStatuses|operationResults/{id}
  if (lower[2] === 'providers' && lower[3] === NAMESPACE && lower[4] === 'locations' && s.length === 8) {
    const kind =
      lower[6] === 'operationstatuses'
        ? 'operationStatus'
        : lower[6] === 'operationresults'
          ? 'operationResult'
          : undefined;
    if (kind) return { kind, subscriptionId, location: s[5]!, operationId: s[7]! };
  }

  let at = 2;
  let resourceGroup: string | undefined;
  if (lower[at] === 'resourcegroups') {
    resourceGroup = s[at + 1];
    if (resourceGroup === undefined) return undefined;
    if (!RESOURCE_GROUP.test(resourceGroup) || resourceGroup.endsWith('.')) {
      throw apiError('InvalidResourceName', {
        name: resourceGroup,
        pattern: "of a resource group (1-90 letters, digits, '-_.()', not ending in '.')",
      });
    }
    at += 2;
  }
  if (lower[at] !== 'providers' || lower[at + 1] !== NAMESPACE) return undefined;
  const rest = s.slice(at + 2);
  if (rest.length === 0) return undefined;

  const typeSegments = rest.filter((_, i) => i % 2 === 0);
  const names = rest.filter((_, i) => i % 2 === 1);
  const type = registry.find(typeSegments.join('/'));
  if (!type) {
    throw apiError('InvalidResourceType', { type: typeSegments.join('/'), namespace: PROVIDER_NAMESPACE, version: '' });
  }
  for (const [i, name] of names.entries()) {
    const level = ancestry(type)[i]!;
    if (!namePattern(level.namePattern).test(name)) {
      throw apiError(
        'InvalidResourceName',
        { name, pattern: level.namePattern },
        { target: level.nameParameters.at(-1) },
      );
    }
  }

  if (names.length === typeSegments.length) {
    if (!resourceGroup) return undefined; // every type of this provider lives in a resource group
    return {
      kind: 'resource',
      type,
      subscriptionId,
      resourceGroup,
      names,
      id: resourceId(subscriptionId, resourceGroup, type, names),
    };
  }
  // A collection: …/{type} after zero or more parent names.
  if (names.length === 0 && type.parent === undefined)
    return { kind: 'collection', type, subscriptionId, resourceGroup };
  if (!resourceGroup || !type.parent || names.length !== typeSegments.length - 1) return undefined;
  return {
    kind: 'collection',
    type,
    subscriptionId,
    resourceGroup,
    parentId: resourceId(subscriptionId, resourceGroup, type.parent, names),
  };
}

/** Most paths a route cache keeps; past it the oldest goes. */
const MAX_CACHED_ROUTES = 4096;

/**
 * `parseArmPath` with a memory: ARM clients address the same ids over and over, and a parse
 * (decoding, lower-casing, name patterns, building the id) costs more than a lookup. Only parses
 * that succeed are kept — a bad path throws again each time; routes are shared, so frozen.
 */
export function cachedArmPathParser(registry: ResourceTypeRegistry): (url: string) => ArmRoute | undefined {
  const routes = new Map<string, ArmRoute | undefined>();
  return (url) => {
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    let route = routes.get(path);
    if (route !== undefined || routes.has(path)) return route;
    route = parseArmPath(path, registry);
    if (route && 'names' in route) Object.freeze(route.names);
    if (routes.size >= MAX_CACHED_ROUTES) routes.delete(routes.keys().next().value!);
    routes.set(path, route && Object.freeze(route));
    return route;
  };
}

const patterns = new Map<string, RegExp>();
function namePattern(source: string): RegExp {
  let pattern = patterns.get(source);
  if (!pattern) patterns.set(source, (pattern = new RegExp(source)));
  return pattern;
}

/** The resource type and its ancestors, outermost first. */
export function ancestry(type: ResourceType): ResourceType[] {
  return type.parent ? [...ancestry(type.parent), type] : [type];
}

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.IoTOperationsMQ/mq/{n}/…` [ID-3, ID-5]. */
export function resourceId(subscriptionId: string, resourceGroup: string, type: ResourceType, names: string[]): string {
  return formatArmId({
    subscriptionId,
    resourceGroup,
    namespace: PROVIDER_NAMESPACE,
    types: [...type.segments],
    names,
  });
}

function checkSubscription(subscriptionId: string): string {
  if (!GUID.test(subscriptionId)) throw apiError('InvalidSubscriptionId', { subscriptionId });
  return subscriptionId;
}
