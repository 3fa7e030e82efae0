import { randomUUID } from 'node:crypto';
import { PROVIDER_NAMESPACE } from '../api/openapi.js';
import type { ResourceType, ResourceTypeRegistry } from '../api/registry.js';
import type { SchemaValidator, SchemaViolation } from '../api/validator.js';
import { apiError, type ApiError } from '../common/errors.js';
import type { OperationRow, ResourceRow, Store, SubscriptionRow } from '../store/index.js';
import { ancestry, type ArmRoute } from './arm-path.js';
import type { Caller } from './auth.js';
import { isCustomLocationId, type CustomLocationDirectory } from './custom-locations.js';
import {
  jsonEqual,
  mergePatch,
  unknownProperties,
  withDefaults,
  withoutReadOnly,
  type ResourceSchemas,
} from './resource-schema.js';
import { systemDataFor, type SystemData } from './system-data.js';

type Json = Record<string, unknown>;
type ResourceRoute = Extract<ArmRoute, { kind: 'resource' }>;
type CollectionRoute = Extract<ArmRoute, { kind: 'collection' }>;
type OperationRoute = Extract<ArmRoute, { kind: 'operationStatus' | 'operationResult' }>;

/** What a handler returns; the HTTP layer only serialises it. */
export interface RpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** The parts of a request the contract depends on, already extracted from HTTP. */
export interface RpRequest {
  /** scheme://host[:port] of the URL the client called (from Referer) [HDR-4]. */
  baseUrl: string;
  apiVersion: string;
  caller?: Caller;
  systemDataHeader?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  /** The request's query, kept for nextLink [GET-2]. */
  query: Record<string, string>;
}

export interface ResourceServiceOptions {
  store: Store;
  validator: SchemaValidator;
  schemas: ResourceSchemas;
  registry: ResourceTypeRegistry;
  customLocations: CustomLocationDirectory;
  /** How long an operation waits for the cluster before it fails as not connected. */
  operationDeadlineMs: number;
  /** Retry-After on every non-terminal async response [ASYNC-7]. */
  retryAfterSeconds: number;
  now?: () => Date;
}

/** Writes allowed per subscription state [SUB-4]. */
const WRITES_ALLOWED: Record<string, readonly string[]> = {
  Registered: ['PUT', 'PATCH', 'DELETE'],
  Warned: ['DELETE'],
  Suspended: ['DELETE'],
  Unregistered: [],
  Deleted: [],
};

const MAX_TAGS = 50;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/\p{Cc}]/u;
const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

/**
 * The resource-provider contract for every type of the registry: PUT, PATCH, DELETE, GET and the
 * lists, with async operations that the cluster completes. One implementation, generic over the
 * type; nothing here knows HTTP.
 */
export class ResourceService {
  private readonly store: Store;
  private readonly now: () => Date;

  constructor(private readonly options: ResourceServiceOptions) {
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
  }

  async get(route: ResourceRoute): Promise<RpResponse> {
    const row = await this.store.resources.get(route.id);
    if (!row) throw await this.notFound(route);
    return { status: 200, headers: etagHeader(row), body: row.body };
  }

  async list(
    route: CollectionRoute,
    request: RpRequest,
    top: number | undefined,
    skipToken: string | undefined,
  ): Promise<RpResponse> {
    const page = { top, skipToken };
    const armType = route.type.armType;
    let result;
    if (route.parentId) {
      if (!(await this.store.resources.get(route.parentId))) throw parentNotFound(route.parentId);
      result = await this.store.resources.listByParent(route.parentId, armType, page);
    } else if (route.resourceGroup) {
      result = await this.store.resources.listByResourceGroup(route.subscriptionId, route.resourceGroup, armType, page);
    } else {
      result = await this.store.resources.listBySubscription(route.subscriptionId, armType, page);
    }
    const body: Json = { value: result.items.map((r) => r.body) };
    if (result.nextSkipToken) body.nextLink = nextLink(request, route, result.nextSkipToken);
    return { status: 200, body };
  }

  async put(route: ResourceRoute, input: unknown, request: RpRequest): Promise<RpResponse> {
    await this.checkSubscription(route.subscriptionId, 'PUT');
    const parent = await this.parentOf(route);
    const existing = await this.store.resources.get(route.id);
    const desired = await this.desiredState(route, input, existing, parent);

    checkPreconditions(route.id, existing, request);
    const active = existing ? await this.store.operations.activeFor(route.id) : undefined;
    if (active && existing) {
      if (active.kind === 'delete')
        throw apiError('Conflict', { id: route.id, reason: 'the resource is being deleted.' });
      // The same goal while it is in flight: the same operation, not a second one [PUT-5].
      if (sameDesiredState(existing.body, desired)) return this.acceptedPut(existing, active, request, false);
      throw apiError('Conflict', { id: route.id, reason: 'an update with different content is still in progress.' });
    }
    // No-op: nothing to converge, answer synchronously without async headers [PUT-5].
    if (existing && stateOf(existing.body) === 'Succeeded' && sameDesiredState(existing.body, desired)) {
      return { status: 200, headers: etagHeader(existing), body: existing.body };
    }

    const etag = randomUUID();
    const previous = existing?.body.systemData as SystemData | undefined;
    const systemData = systemDataFor(request.systemDataHeader, request.caller, previous, this.now());
    const body = envelope(route, desired, systemData, 'Accepted');
    const operationId = randomUUID();
    const { resource, created, operation } = await this.store.resources
      .put(
        { id: route.id, type: route.type.armType, body, etag, customLocation: desired.extendedLocation.name },
        {
          ifMatch: existing ? existing.etag : undefined,
          ifNoneMatch: existing ? undefined : '*',
          operation: { id: operationId, kind: 'put', deadline: this.deadline() },
        },
      )
      .catch(concurrentWrite(route.id));
    return this.acceptedPut(resource, operation!, request, created);
  }

  async patch(route: ResourceRoute, input: unknown, request: RpRequest): Promise<RpResponse> {
    await this.checkSubscription(route.subscriptionId, 'PATCH');
    await this.parentOf(route);
    const existing = await this.store.resources.get(route.id);
    if (!existing) throw await this.notFound(route); // even with If-Match: * [PATCH-1]
    checkPreconditions(route.id, existing, request);
    if (!isObject(input)) throw apiError('InvalidRequestContent', { reason: 'the body must be a JSON object.' });

    const updateSchema = route.type.schemas.update;
    const violations = [
      ...this.options.validator.validate(updateSchema, input),
      ...unknownProperties(input, this.options.schemas.schema(updateSchema)),
    ];
    throwViolations(violations);
    const current = existing.body;
    for (const field of ['location', 'extendedLocation'] as const) {
      if (field in input && !sameField(field, input[field], current[field]))
        throw apiError('PropertyChangeNotAllowed', { property: field }, { target: field });
    }

    const tags = 'tags' in input ? validTags(input.tags) : current.tags; // replaces the whole map [PATCH-2]
    const currentProperties = withoutState(current.properties as Json);
    const properties =
      'properties' in input ? (mergePatch(currentProperties, input.properties) as Json) : currentProperties;
    const propertiesChanged = !jsonEqual(properties, currentProperties);
    const desired: DesiredState = {
      location: current.location as string,
      extendedLocation: current.extendedLocation as DesiredState['extendedLocation'],
      tags: tags as Record<string, string> | undefined,
      properties: withDefaults(properties, this.propertiesSchema(route.type)) as Json,
    };
    if (propertiesChanged)
      this.validateResource(route.type, {
        location: desired.location,
        extendedLocation: desired.extendedLocation,
        properties: desired.properties,
      });

    // Nothing changes: answer with the resource as it is, without a write (no new systemData either).
    if (!propertiesChanged && jsonEqual(tags ?? undefined, current.tags ?? undefined)) {
      return { status: 200, headers: etagHeader(existing), body: current };
    }
    const active = await this.store.operations.activeFor(route.id);
    if (active && (active.kind === 'delete' || propertiesChanged)) {
      throw apiError('Conflict', {
        id: route.id,
        reason: `a ${active.kind === 'delete' ? 'delete' : 'previous update'} is still in progress.`,
      });
    }
    const systemData = systemDataFor(
      request.systemDataHeader,
      request.caller,
      current.systemData as SystemData,
      this.now(),
    );
    // A properties change goes to the cluster like a PUT; a tags-only change does not touch it.
    const state = propertiesChanged ? 'Updating' : stateOf(current);
    const body = envelope(route, desired, systemData, state);
    const { resource } = await this.store.resources
      .put(
        {
          id: route.id,
          type: route.type.armType,
          body,
          etag: propertiesChanged ? randomUUID() : existing.etag,
          customLocation: desired.extendedLocation.name,
        },
        {
          ifMatch: existing.etag,
          operation: propertiesChanged ? { id: randomUUID(), kind: 'put', deadline: this.deadline() } : undefined,
        },
      )
      .catch(concurrentWrite(route.id));
    return { status: 200, headers: etagHeader(resource), body: resource.body };
  }

  async delete(route: ResourceRoute, request: RpRequest): Promise<RpResponse> {
    await this.checkSubscription(route.subscriptionId, 'DELETE');
    const existing = await this.store.resources.get(route.id);
    if (!existing) return { status: 204 }; // also with any If-Match [DEL-5]
    checkPreconditions(route.id, existing, { ...request, ifNoneMatch: undefined });
    const active = await this.store.operations.activeFor(route.id);
    if (active?.kind === 'delete') return this.acceptedDelete(active, existing, request);
    if (active)
      throw apiError('Conflict', {
        id: route.id,
        reason: 'a create or update is still in progress; delete it when that ends.',
      });

    // The resource and every descendant show Deleting until the cluster has removed them.
    const operationId = randomUUID();
    const deadline = this.deadline();
    const operation = await this.store
      .transaction(async (tx) => {
        const descendants = await this.descendantsOf(route.id);
        for (const row of descendants) {
          await tx.resources.put({
            id: row.id,
            type: row.type,
            body: withState(row.body, 'Deleting'),
            etag: row.etag,
            customLocation: row.customLocation,
          });
        }
        const root = await tx.resources.put(
          {
            id: existing.id,
            type: existing.type,
            body: withState(existing.body, 'Deleting'),
            etag: existing.etag,
            customLocation: existing.customLocation,
          },
          { ifMatch: existing.etag, operation: { id: operationId, kind: 'delete', deadline } },
        );
        return root.operation!;
      })
      .catch(concurrentWrite(route.id));
    return this.acceptedDelete(operation, existing, request);
  }

  /** GET …/operationStatuses/{id}: 200 whenever the status is readable [ASYNC-2]. */
  async operationStatus(route: OperationRoute, request: RpRequest): Promise<RpResponse> {
    const operation = await this.operation(route.subscriptionId, route.operationId);
    const body: Json = {
      id: `/subscriptions/${route.subscriptionId}/providers/${PROVIDER_NAMESPACE}/locations/${route.location}/operationStatuses/${operation.id}`,
      name: operation.id,
      resourceId: operation.resourceId,
      status: operation.status === 'Accepted' ? 'Accepted' : operation.status,
      startTime: operation.startTime,
      percentComplete: TERMINAL.has(operation.status) ? 100 : 0,
    };
    if (operation.endTime) body.endTime = operation.endTime;
    if (operation.error) body.error = operation.error;
    const headers: Record<string, string> = TERMINAL.has(operation.status)
      ? {}
      : { 'retry-after': String(this.options.retryAfterSeconds) };
    void request;
    return { status: 200, headers, body };
  }

  /** GET …/operationResults/{id}: 202 while running, then what the synchronous call would answer [ASYNC-6]. */
  async operationResult(route: OperationRoute, request: RpRequest): Promise<RpResponse> {
    const operation = await this.operation(route.subscriptionId, route.operationId);
    if (!TERMINAL.has(operation.status)) {
      return {
        status: 202,
        headers: {
          location: this.operationUrl(request, route.subscriptionId, route.location, operation.id, 'operationResults'),
          'retry-after': String(this.options.retryAfterSeconds),
        },
      };
    }
    if (operation.status !== 'Succeeded') return { status: 400, body: { error: operation.error } };
    if (operation.kind === 'delete') return { status: 204 };
    const row = await this.store.resources.get(operation.resourceId);
    return row ? { status: 200, headers: etagHeader(row), body: row.body } : { status: 204 };
  }

  // ---------------------------------------------------------------------------------------------

  private acceptedPut(row: ResourceRow, operation: OperationRow, request: RpRequest, created: boolean): RpResponse {
    const location = row.body.location as string;
    const sub = subscriptionOf(row.id);
    return {
      status: created ? 201 : 200,
      headers: {
        ...etagHeader(row),
        'azure-asyncoperation': this.operationUrl(request, sub, location, operation.id, 'operationStatuses'),
        'retry-after': String(this.options.retryAfterSeconds),
      },
      body: row.body,
    };
  }

  private acceptedDelete(operation: OperationRow, row: ResourceRow, request: RpRequest): RpResponse {
    const location = row.body.location as string;
    const sub = subscriptionOf(row.id);
    return {
      status: 202,
      headers: {
        location: this.operationUrl(request, sub, location, operation.id, 'operationResults'),
        'azure-asyncoperation': this.operationUrl(request, sub, location, operation.id, 'operationStatuses'),
        'retry-after': String(this.options.retryAfterSeconds),
      },
    };
  }

  private operationUrl(request: RpRequest, subscriptionId: string, location: string, id: string, kind: string): string {
    return `${request.baseUrl}/subscriptions/${subscriptionId}/providers/${PROVIDER_NAMESPACE}/locations/${location}/${kind}/${id}?api-version=${encodeURIComponent(request.apiVersion)}`;
  }

  private async operation(subscriptionId: string, operationId: string): Promise<OperationRow> {
    const operation = await this.store.operations.get(operationId);
    if (!operation || subscriptionOf(operation.resourceId).toLowerCase() !== subscriptionId.toLowerCase()) {
      throw apiError('OperationNotFound', { operationId });
    }
    return operation;
  }

  private deadline(): string {
    return new Date(this.now().getTime() + this.options.operationDeadlineMs).toISOString();
  }

  private async checkSubscription(subscriptionId: string, method: string): Promise<SubscriptionRow> {
    const subscription = await this.store.subscriptions.get(subscriptionId);
    if (!subscription) throw apiError('MissingSubscriptionRegistration', { namespace: PROVIDER_NAMESPACE });
    if (!WRITES_ALLOWED[subscription.state]?.includes(method)) {
      throw apiError('SubscriptionNotRegistered', { subscriptionId, state: subscription.state });
    }
    return subscription;
  }

  private async parentOf(route: ResourceRoute): Promise<ResourceRow | undefined> {
    if (!route.type.parent) return undefined;
    const parentId = route.id.split('/').slice(0, -2).join('/');
    const parent = await this.store.resources.get(parentId);
    if (!parent) throw parentNotFound(parentId);
    return parent;
  }

  private async notFound(route: ResourceRoute): Promise<ApiError> {
    if (route.type.parent) {
      const parentId = route.id.split('/').slice(0, -2).join('/');
      if (!(await this.store.resources.get(parentId))) return parentNotFound(parentId);
    }
    return apiError('ResourceNotFound', {
      type: route.type.armType,
      name: route.names.join('/'),
      resourceGroup: route.resourceGroup,
    });
  }

  private async descendantsOf(id: string): Promise<ResourceRow[]> {
    const result: ResourceRow[] = [];
    const visit = async (parentId: string) => {
      for (const type of this.childTypes(parentId)) {
        let skipToken: string | undefined;
        do {
          const page = await this.store.resources.listByParent(parentId, type, { top: 500, skipToken });
          for (const row of page.items) {
            result.push(row);
            await visit(row.id);
          }
          skipToken = page.nextSkipToken;
        } while (skipToken);
      }
    };
    await visit(id);
    return result;
  }

  /** Types one level below the parent's type, from the registry. */
  private childTypes(parentId: string): string[] {
    const parentType = this.options.registry.find(typeSegmentsOf(parentId));
    return this.options.registry.types.filter((t) => t.parent === parentType).map((t) => t.armType);
  }

  private propertiesSchema(type: ResourceType) {
    return this.options.schemas.schema(type.schemas.properties);
  }

  private validateResource(type: ResourceType, body: Json): void {
    throwViolations(this.options.validator.validate(type.schemas.resource, body));
  }

  /** The client's desired state, validated and normalised [PUT-1, PUT-8, SHAPE-3..5]. */
  private async desiredState(
    route: ResourceRoute,
    input: unknown,
    existing: ResourceRow | undefined,
    parent: ResourceRow | undefined,
  ): Promise<DesiredState> {
    if (!isObject(input)) throw apiError('InvalidRequestContent', { reason: 'the body must be a JSON object.' });
    const resourceSchema = this.options.schemas.resource(route.type);
    const body = withoutReadOnly(input, resourceSchema) as Json;
    delete body.etag; // not modelled by this API; read-only wherever it appears
    body.properties ??= {}; // an absent bag is an empty one: its required members are still required
    // provisioningState is read-only: the same value as stored is ignored, another is refused [SHAPE-7].
    const properties = isObject(input.properties) ? input.properties : undefined;
    if (properties && 'provisioningState' in properties) {
      const stored = existing ? stateOf(existing.body) : undefined;
      if (properties.provisioningState !== stored && properties.provisioningState !== 'Succeeded') {
        throw apiError(
          'PropertyChangeNotAllowed',
          { property: 'properties.provisioningState' },
          { target: 'properties.provisioningState' },
        );
      }
    }
    if (body.location === undefined || body.location === null || body.location === '')
      throw apiError('LocationRequired', {}, { target: 'location' });
    const violations = [
      ...this.options.validator.validate(route.type.schemas.resource, body),
      ...unknownProperties(body, resourceSchema),
    ];
    throwViolations(violations);

    const location = normalizeLocation(body.location as string);
    if (existing && normalizeLocation(existing.body.location as string) !== location) {
      throw apiError('InvalidResourceLocation', {
        name: route.names.at(-1)!,
        existing: existing.body.location as string,
        requested: location,
      });
    }
    const extendedLocation = body.extendedLocation as { name: string; type: string };
    await this.checkExtendedLocation(extendedLocation, existing, parent);
    return {
      location,
      extendedLocation: { name: extendedLocation.name, type: extendedLocation.type },
      tags: body.tags === undefined ? undefined : validTags(body.tags),
      properties: withDefaults(body.properties ?? {}, this.propertiesSchema(route.type)) as Json,
    };
  }

  private async checkExtendedLocation(
    extendedLocation: { name: string; type: string },
    existing: ResourceRow | undefined,
    parent: ResourceRow | undefined,
  ): Promise<void> {
    const target = 'extendedLocation';
    if (extendedLocation.type !== 'CustomLocation') {
      throw apiError(
        'InvalidExtendedLocation',
        { message: `extendedLocation.type must be 'CustomLocation', not '${extendedLocation.type}'.` },
        { target: `${target}.type` },
      );
    }
    if (!isCustomLocationId(extendedLocation.name)) {
      throw apiError(
        'InvalidExtendedLocation',
        {
          message: `extendedLocation.name must be the resource id of a custom location, not '${extendedLocation.name}'.`,
        },
        { target: `${target}.name` },
      );
    }
    const existingName = (existing?.body.extendedLocation as { name?: string } | undefined)?.name;
    if (existingName && existingName.toLowerCase() !== extendedLocation.name.toLowerCase()) {
      throw apiError('PropertyChangeNotAllowed', { property: 'extendedLocation' }, { target });
    }
    const parentName = (parent?.body.extendedLocation as { name?: string } | undefined)?.name;
    if (parentName && parentName.toLowerCase() !== extendedLocation.name.toLowerCase()) {
      throw apiError(
        'InvalidExtendedLocation',
        { message: `extendedLocation.name must be the parent's custom location '${parentName}'.` },
        { target: `${target}.name` },
      );
    }
    if (!existing && !(await this.options.customLocations.get(extendedLocation.name))) {
      throw apiError(
        'InvalidExtendedLocation',
        { message: `The custom location '${extendedLocation.name}' does not exist.` },
        { target: `${target}.name` },
      );
    }
  }
}

interface DesiredState {
  location: string;
  extendedLocation: { name: string; type: string };
  tags?: Record<string, string>;
  properties: Json;
}

function envelope(
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

function sameDesiredState(stored: Json, desired: DesiredState): boolean {
  return (
    stored.location === desired.location &&
    jsonEqual(stored.tags ?? undefined, desired.tags ?? undefined) &&
    (stored.extendedLocation as { name: string }).name.toLowerCase() === desired.extendedLocation.name.toLowerCase() &&
    jsonEqual(withoutState(stored.properties as Json), desired.properties)
  );
}

function sameField(field: 'location' | 'extendedLocation', given: unknown, stored: unknown): boolean {
  if (field === 'location') return typeof given === 'string' && normalizeLocation(given) === stored;
  const a = given as { name?: string; type?: string } | null;
  const b = stored as { name: string; type: string };
  return !!a && a.name?.toLowerCase() === b.name.toLowerCase() && (a.type ?? b.type) === b.type;
}

function checkPreconditions(
  id: string,
  existing: ResourceRow | undefined,
  request: Pick<RpRequest, 'ifMatch' | 'ifNoneMatch'>,
): void {
  if (request.ifNoneMatch !== undefined && request.ifNoneMatch.trim() === '*' && existing)
    throw apiError('PreconditionFailed', { id });
  if (request.ifMatch === undefined) return;
  const wanted = request.ifMatch.split(',').map(normalizeEtag);
  if (!existing) throw apiError('PreconditionFailed', { id });
  if (!wanted.includes('*') && !wanted.includes(existing.etag)) throw apiError('PreconditionFailed', { id });
}

/** Tolerant ETag comparison [ETAG-1]: quotes optional, weak prefix ignored. */
function normalizeEtag(value: string): string {
  return value
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

function etagHeader(row: ResourceRow): Record<string, string> {
  return { etag: `"${row.etag}"` };
}

/** `West US` and `westus` are one location [SHAPE-3]. */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

function validTags(tags: unknown): Record<string, string> {
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
    if (typeof value === 'string' && value.length > 256)
      violations.push({ target, message: 'A tag value may have at most 256 characters.' });
  }
  throwViolations(violations);
  return result;
}

function throwViolations(violations: SchemaViolation[]): void {
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

function parentNotFound(parentId: string): ApiError {
  return apiError('ParentResourceNotFound', { parent: parentId.split('/').slice(-2).join('/') }, { target: parentId });
}

function nextLink(request: RpRequest, route: CollectionRoute, skipToken: string): string {
  const query = new URLSearchParams({ ...request.query, $skipToken: skipToken });
  query.delete('skipToken');
  const path = route.parentId
    ? `${route.parentId}/${route.type.segments.at(-1)}`
    : `/subscriptions/${route.subscriptionId}${route.resourceGroup ? `/resourceGroups/${route.resourceGroup}` : ''}/providers/${PROVIDER_NAMESPACE}/${route.type.segments.join('/')}`;
  return `${request.baseUrl}${path}?${query.toString()}`;
}

/** `mq/broker` from `/subscriptions/…/providers/NS/mq/a/broker/b`. */
export function typeSegmentsOf(id: string): string {
  return id
    .split('/')
    .slice(7)
    .filter((_, i) => i % 2 === 0)
    .join('/');
}

function subscriptionOf(id: string): string {
  return id.split('/')[2]!;
}

function stateOf(body: Json): string {
  return ((body.properties as Json | undefined)?.provisioningState as string | undefined) ?? 'Succeeded';
}

function withoutState(properties: Json | undefined): Json {
  const { provisioningState: _state, ...rest } = properties ?? {};
  return rest;
}

export function withState(body: Json, state: string): Json {
  return { ...body, properties: { ...(body.properties as Json), provisioningState: state } };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Two writers raced on one resource: the loser gets 409, never a 5xx [PUT-5]. */
function concurrentWrite(id: string) {
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
