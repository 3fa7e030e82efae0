import { randomUUID } from 'node:crypto';
import { parentIdOf } from '../api/arm-id.js';
import { PROVIDER_NAMESPACE } from '../api/openapi.js';
import type { ResourceType, ResourceTypeRegistry } from '../api/registry.js';
import type { SchemaValidator } from '../api/validator.js';
import { apiError, type ApiError } from '../common/errors.js';
import type { ResourceRow, Store, SubscriptionRow } from '../store/index.js';
import type { ArmRoute } from './arm-path.js';
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
import { AsyncOperations } from './async-operations.js';
import {
  checkPreconditions,
  concurrentWrite,
  envelope,
  etagHeader,
  isObject,
  nextLink,
  normalizeLocation,
  parentNotFound,
  sameDesiredState,
  sameField,
  stateOf,
  throwViolations,
  typeSegmentsOf,
  validTags,
  withoutState,
  withState,
  type DesiredState,
  type Json,
} from './resource-body.js';

type ResourceRoute = Extract<ArmRoute, { kind: 'resource' }>;
type CollectionRoute = Extract<ArmRoute, { kind: 'collection' }>;

/** What a handler returns; the HTTP layer only serialises it. */
export interface RpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** The body as JSON text already (a stored resource as it is): sent as it is, instead of `body`. */
  json?: string;
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

/**
 * The resource-provider contract for every type of the registry: PUT, PATCH, DELETE, GET and the
 * lists, with async operations that the cluster completes. One implementation, generic over the
 * type; nothing here knows HTTP.
 */
export class ResourceService {
  private readonly store: Store;
  private readonly now: () => Date;

  /** The async-operation side of PUT and DELETE, and the endpoints clients poll. */
  readonly operations: AsyncOperations;

  constructor(private readonly options: ResourceServiceOptions) {
    this.store = options.store;
    this.operations = new AsyncOperations(options.store, options.retryAfterSeconds);
    this.now = options.now ?? (() => new Date());
  }

  /** The stored body as it is: no parse and serialise on the RP's most frequent call. */
  async get(route: ResourceRoute): Promise<RpResponse> {
    const stored = await this.store.resources.getJson(route.id);
    if (!stored) throw await this.notFound(route);
    return { status: 200, headers: etagHeader(stored), json: stored.json };
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
      if (sameDesiredState(existing.body, desired))
        return this.operations.acceptedPut(existing, active, request, false);
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
    return this.operations.acceptedPut(resource, operation!, request, created);
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
      if (Object.hasOwn(input, field) && !sameField(field, input[field], current[field]))
        throw apiError('PropertyChangeNotAllowed', { property: field }, { target: field });
    }

    const tags = Object.hasOwn(input, 'tags') ? validTags(input.tags) : current.tags; // replaces the whole map [PATCH-2]
    const currentProperties = withoutState(current.properties as Json);
    const properties = Object.hasOwn(input, 'properties')
      ? (mergePatch(currentProperties, input.properties) as Json)
      : currentProperties;
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
    if (active?.kind === 'delete') return this.operations.acceptedDelete(active, existing, request);
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
    return this.operations.acceptedDelete(operation, existing, request);
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
    const parentId = parentIdOf(route.id)!;
    const parent = await this.store.resources.get(parentId);
    if (!parent) throw parentNotFound(parentId);
    return parent;
  }

  private async notFound(route: ResourceRoute): Promise<ApiError> {
    if (route.type.parent) {
      const parentId = parentIdOf(route.id)!;
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
    if (properties && Object.hasOwn(properties, 'provisioningState')) {
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
