import { parseArmId } from '../api/arm-id.js';
import { PROVIDER_NAMESPACE } from '../api/openapi.js';
import type { SchemaViolation } from '../api/validator.js';
import { apiError, type ApiError } from '../common/errors.js';
import type { ResourceRow } from '../store/index.js';
import { ancestry, type ArmRoute } from './arm-path.js';
import { jsonEqual } from './resource-schema.js';
import type { SystemData } from './system-data.js';

// The ARM envelope of a resource and the small rules around it: how a stored body is built and
// compared, ETag preconditions, tags, provisioningState, and how violations become one ARM error.

export type Json = Record<string, unknown>;
type ResourceRoute = Extract<ArmRoute, { kind: 'resource' }>;
type CollectionRoute = Extract<ArmRoute, { kind: 'collection' }>;

/** Query passed along in nextLink. */
interface ListRequest {
  baseUrl: string;
  query: Record<string, string>;
}

const MAX_TAGS = 50;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/\p{Cc}]/u;
export const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

export interface DesiredState {
  location: string;
  extendedLocation: { name: string; type: string };
  tags?: Record<string, string>;
  properties: Json;
}

export function envelope(
  route: ResourceRoute,
  desired: DesiredState,
  systemData: SystemData | undefined,
  state: string,
): Json {
  const body: Json = {
    id: route.id,
    name: route.names.at(-1),
    type: `${PROVIDER_NAMESPACE}/${ancestry(route.type)
      .map((t) => t.segments.at(-1))
      .join('/')}`,
    location: desired.location,
    extendedLocation: desired.extendedLocation,
  };
  if (desired.tags) body.tags = desired.tags;
  if (systemData) body.systemData = systemData;
  body.properties = { ...desired.properties, provisioningState: state };
  return body;
}

export function sameDesiredState(stored: Json, desired: DesiredState): boolean {
  return (
    stored.location === desired.location &&
    jsonEqual(stored.tags ?? undefined, desired.tags ?? undefined) &&
    (stored.extendedLocation as { name: string }).name.toLowerCase() === desired.extendedLocation.name.toLowerCase() &&
    jsonEqual(withoutState(stored.properties as Json), desired.properties)
  );
}

export function sameField(field: 'location' | 'extendedLocation', given: unknown, stored: unknown): boolean {
  if (field === 'location') return typeof given === 'string' && normalizeLocation(given) === stored;
  const a = given as { name?: string; type?: string } | null;
  const b = stored as { name: string; type: string };
  return !!a && a.name?.toLowerCase() === b.name.toLowerCase() && (a.type ?? b.type) === b.type;
}

export function checkPreconditions(
  id: string,
  existing: ResourceRow | undefined,
  request: { ifMatch?: string; ifNoneMatch?: string },
): void {
  if (request.ifNoneMatch !== undefined && request.ifNoneMatch.trim() === '*' && existing)
    throw apiError('PreconditionFailed', { id });
  if (request.ifMatch === undefined) return;
  const wanted = request.ifMatch.split(',').map(normalizeEtag);
  if (!existing) throw apiError('PreconditionFailed', { id });
  if (!wanted.includes('*') && !wanted.includes(existing.etag)) throw apiError('PreconditionFailed', { id });
}

/** Tolerant ETag comparison [ETAG-1]: quotes optional, weak prefix ignored. */
export function normalizeEtag(value: string): string {
  return value
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

export function etagHeader(row: { etag: string }): Record<string, string> {
  return { etag: `"${row.etag}"` };
}

/** `West US` and `westus` are one location [SHAPE-3]. */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

/** ARM's tag rules, for every resource type (the RP's and the front door's own) [SHAPE-4]. */
export function validTags(tags: unknown): Record<string, string> {
  if (tags !== undefined && tags !== null && !isObject(tags))
    throwViolations([{ target: 'tags', message: "'tags' must be an object of tag names to string values." }]);
  const result = tags as Record<string, string>;
  const entries = Object.entries(result ?? {});
  const violations: SchemaViolation[] = [];
  if (entries.length > MAX_TAGS)
    violations.push({
      target: 'tags',
      message: `A resource may have at most ${MAX_TAGS} tags, not ${entries.length}.`,
    });
  for (const [name, value] of entries) {
    const target = `tags.${name}`;
    if (name.length === 0 || name.length > 512)
      violations.push({ target, message: 'A tag name must have 1 to 512 characters.' });
    if (TAG_NAME_FORBIDDEN.test(name))
      violations.push({
        target,
        message: "A tag name may not contain '<', '>', '%', '&', '\\', '?', '/' or control characters.",
      });
    if (typeof value !== 'string') violations.push({ target, message: 'A tag value must be a string.' });
    else if (value.length > 256) violations.push({ target, message: 'A tag value may have at most 256 characters.' });
  }
  throwViolations(violations);
  return result;
}

export function throwViolations(violations: SchemaViolation[]): void {
  if (violations.length === 0) return;
  const unique = [...new Map(violations.map((v) => [`${v.target}|${v.message}`, v])).values()];
  throw apiError(
    'InvalidRequestProperties',
    {
      count: unique.length,
      plural: unique.length === 1 ? 'y' : 'ies',
      summary: unique.map((v) => v.message).join(' '),
    },
    {
      target: unique[0]!.target,
      details: unique.map((v) => ({ code: 'InvalidProperty', target: v.target, message: v.message })),
    },
  );
}

export function parentNotFound(parentId: string): ApiError {
  const parent = parseArmId(parentId);
  const name = parent ? `${parent.types.at(-1)}/${parent.names.at(-1)}` : parentId;
  return apiError('ParentResourceNotFound', { parent: name }, { target: parentId });
}

export function nextLink(request: ListRequest, route: CollectionRoute, skipToken: string): string {
  const query = new URLSearchParams({ ...request.query, $skipToken: skipToken });
  query.delete('skipToken');
  const path = route.parentId
    ? `${route.parentId}/${route.type.segments.at(-1)}`
    : `/subscriptions/${route.subscriptionId}${route.resourceGroup ? `/resourceGroups/${route.resourceGroup}` : ''}/providers/${PROVIDER_NAMESPACE}/${route.type.segments.join('/')}`;
  return `${request.baseUrl}${path}?${query.toString()}`;
}

/** `mq/broker` from `/subscriptions/…/providers/NS/mq/a/broker/b`. */
export function typeSegmentsOf(id: string): string {
  return parseArmId(id)?.types.join('/') ?? '';
}

export function subscriptionOf(id: string): string {
  return parseArmId(id)?.subscriptionId ?? '';
}

export function stateOf(body: Json): string {
  return ((body.properties as Json | undefined)?.provisioningState as string | undefined) ?? 'Succeeded';
}

export function withoutState(properties: Json | undefined): Json {
  const { provisioningState: _state, ...rest } = properties ?? {};
  return rest;
}

export function withState(body: Json, state: string): Json {
  return { ...body, properties: { ...(body.properties as Json), provisioningState: state } };
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Two writers raced on one resource: the loser gets 409, never a 5xx [PUT-5]. */
export function concurrentWrite(id: string) {
  return (error: unknown): never => {
    const code = (error as { code?: string }).code;
    if (code === 'PreconditionFailed' || code === 'Conflict') {
      throw apiError(
        'Conflict',
        { id, reason: 'another request changed it at the same time; retry.' },
        { cause: error },
      );
    }
    throw error;
  };
}
