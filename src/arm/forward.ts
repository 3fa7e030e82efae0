import { randomUUID } from 'node:crypto';
import { API_VERSION, PROVIDER_NAMESPACE, SUPPORTED_API_VERSIONS } from '../api/openapi.js';
import { apiError } from '../common/errors.js';
import { checkJsonDepth } from '../common/json-body.js';
import {
  armTimestamp,
  checkLinkedAccess,
  header,
  resourceGroupOf,
  subscriptionOf,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context.js';
import { mqLocations, normaliseLocation } from './locations.js';
import { followOperation } from './lro.js';
import type { Route } from './router.js';

const NS = PROVIDER_NAMESPACE.replace('.', '\\.');
/** Headers a client sends that ARM passes on unchanged [HDR-1]. */
const PASS_THROUGH = [
  'content-type',
  'if-match',
  'if-none-match',
  'accept-language',
  'user-agent',
  'traceparent',
  'x-ms-client-request-id',
  'x-ms-return-client-request-id',
];
/** Response headers that describe the hop, not the resource. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);
const ENVELOPE_KEYS = [
  'id',
  'name',
  'type',
  'location',
  'tags',
  'extendedLocation',
  'kind',
  'sku',
  'identity',
  'managedBy',
  'systemData',
];

/**
 * Everything under `/subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.IoTOperationsMQ/`
 * (and the provider's operations list) goes to the RP, after the checks ARM makes first [PUT-6]:
 * token, api-version, subscription and its tenant, provider registration, resource group. What is
 * forwarded is the canonical target those checks ran on (`ArmRequest.url`), with the headers ARM
 * adds [FD duty 4]; the RP's answer is returned unchanged [duty 5] and the tracked-resource index
 * updated [duty 6].
 */
export function forwardRoutes(ctx: ArmContext): Route[] {
  return [
    // The one tenant-level path of the provider. Anything else without a subscription in the path
    // has no subscription to authorise against, so it is not forwarded at all.
    {
      method: 'GET',
      pattern: new RegExp(`^/providers/${NS}(?<rest>/operations)$`, 'i'),
      handler: async (request) => forward(ctx, request, undefined),
    },
    {
      method: ['GET', 'PUT', 'PATCH', 'DELETE', 'POST'],
      pattern: new RegExp(
        `^/subscriptions/(?<subscriptionId>[^/]+)(?:/resourceGroups/(?<resourceGroup>[^/]+))?/providers/${NS}(?<rest>/.*)?$`,
        'i',
      ),
      handler: async (request) => {
        const subscription = subscriptionOf(ctx, request);
        return forward(ctx, request, subscription.tenantId);
      },
    },
  ];
}

async function forward(ctx: ArmContext, request: ArmRequest, homeTenant: string | undefined): Promise<ArmResponse> {
  const version = request.query['api-version'];
  if (!version) throw apiError('MissingApiVersionParameter');
  const rest = request.params.rest ?? '';
  if (!SUPPORTED_API_VERSIONS.includes(version)) {
    throw apiError('NoRegisteredProviderFound', {
      location: 'global',
      version,
      type: `${PROVIDER_NAMESPACE}${typeOfRest(rest)}`,
      supported: SUPPORTED_API_VERSIONS.join(', '),
    });
  }
  const subscriptionId = request.params.subscriptionId;
  const write = request.method !== 'GET';
  if (subscriptionId) {
    if (ctx.store.registrations.get(subscriptionId, PROVIDER_NAMESPACE) !== 'Registered') {
      throw apiError('MissingSubscriptionRegistration', { namespace: PROVIDER_NAMESPACE });
    }
    if (request.params.resourceGroup) {
      const group = resourceGroupOf(ctx, request);
      if (write && request.method !== 'DELETE' && group.provisioningState === 'Deleting') {
        throw apiError('ResourceGroupBeingDeleted', { resourceGroup: group.name });
      }
    }
  }

  // ARM reads the body (location, tags) before the RP does: too deep a body stops here [issue 11 item 10].
  if (request.bodyText) checkJsonDepth(request.bodyText);
  if (request.method === 'PUT' && isResourcePath(rest)) {
    const body = bodyObject(request);
    checkLocation(body, rest);
    const customLocation = (body?.extendedLocation as { name?: unknown } | undefined)?.name;
    if (typeof customLocation === 'string')
      checkLinkedAccess(ctx, request, customLocation, 'Microsoft.ExtendedLocation/customLocations/deploy/action');
  }

  const headers: Record<string, string> = {};
  for (const name of PASS_THROUGH) {
    const value = header(request, name);
    if (value !== undefined) headers[name] = value;
  }
  Object.assign(headers, armHeaders(ctx, request, homeTenant));
  const exchange = await ctx.rp.send(request.method, request.url, headers, request.bodyText || undefined);

  const responseHeaders: Record<string, string> = {};
  exchange.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) responseHeaders[name] = value;
  });
  responseHeaders['x-ms-correlation-request-id'] = request.correlationId;
  responseHeaders['x-ms-routing-request-id'] = headers['x-ms-routing-request-id']!;

  if (subscriptionId && isResourcePath(rest))
    indexAfter(ctx, request, exchange.status, exchange.text, exchange.headers);
  return { status: exchange.status, headers: responseHeaders, text: exchange.text };
}

/**
 * ARM refuses a location the provider did not register the type in before the RP sees the request
 * [SHAPE-3]; a missing location or an unreadable body is left to the RP (LocationRequired, 400).
 */
function checkLocation(body: Record<string, unknown> | undefined, rest: string): void {
  const location = body?.location;
  if (typeof location !== 'string' || location === '') return;
  const resourceType = typeOfRest(rest).slice(1);
  const available = mqLocations(resourceType);
  if (!available.some((l) => l.name === normaliseLocation(location))) {
    throw apiError('LocationNotAvailableForResourceType', {
      location,
      type: `${PROVIDER_NAMESPACE}/${resourceType}`,
      available: available.map((l) => l.name).join(','),
    });
  }
}

/** The body as an object for ARM's own checks; anything else is the RP's to refuse. */
function bodyObject(request: ArmRequest): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(request.bodyText);
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The headers ARM adds on its way to an RP [HDR-1]. */
export function armHeaders(
  ctx: ArmContext,
  request: ArmRequest,
  homeTenant: string | undefined,
): Record<string, string> {
  const caller = request.caller;
  const now = armTimestamp();
  const headers: Record<string, string> = {
    referer: `${ctx.publicUrl()}${request.url}`,
    'x-ms-correlation-request-id': request.correlationId,
    'x-ms-routing-request-id': `LOCAL:${now.replace(/[-:]/g, '').slice(0, 15)}Z:${randomUUID()}`,
    'x-ms-client-ip-address': request.clientIp,
    'x-ms-client-tenant-id': caller.tenantId,
    'x-ms-client-principal-name': caller.principalName,
    'x-ms-client-authorization-source': 'RoleBased',
    'x-ms-client-audience': String(caller.claims.aud ?? ''),
    'x-ms-client-issuer': String(caller.claims.iss ?? ''),
  };
  if (homeTenant) headers['x-ms-home-tenant-id'] = homeTenant;
  if (caller.objectId) headers['x-ms-client-object-id'] = caller.objectId;
  if (caller.appId) {
    headers['x-ms-client-app-id'] = caller.appId;
    headers['x-ms-client-app-id-acr'] = String(caller.claims.appidacr ?? caller.claims.azpacr ?? '1');
  }
  if (['PUT', 'PATCH', 'POST'].includes(request.method)) {
    // ARM sends both halves; the RP keeps created* of an existing resource [SHAPE-6].
    headers['x-ms-arm-resource-system-data'] = JSON.stringify({
      createdBy: caller.principalName,
      createdByType: caller.principalType,
      createdAt: now,
      lastModifiedBy: caller.principalName,
      lastModifiedByType: caller.principalType,
      lastModifiedAt: now,
    });
  }
  return headers;
}

/** After the RP answered: keep the index of tracked resources in step [FD duty 6]. */
function indexAfter(ctx: ArmContext, request: ArmRequest, status: number, text: string, headers: Headers): void {
  const id = request.path;
  if (
    (request.method === 'PUT' || request.method === 'PATCH' || request.method === 'GET') &&
    (status === 200 || status === 201)
  ) {
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      if (typeof body.id === 'string') indexResource(ctx, body);
    } catch {
      // not a resource body; nothing to index
    }
  } else if (
    (request.method === 'GET' && status === 404) ||
    (request.method === 'DELETE' && (status === 200 || status === 204))
  ) {
    ctx.store.resources.deleteTree(id);
  } else if (request.method === 'DELETE' && status === 202) {
    // The resource stays listed (Deleting) until the RP's operation ends; follow it in the background.
    ctx.track(
      followOperation(ctx.rp, { status, headers, body: undefined }, `${id}?api-version=${API_VERSION}`, {
        method: 'DELETE',
        signal: ctx.signal,
        maxPollMs: ctx.maxPollMs,
      })
        .then((outcome) => {
          if (outcome.status === 'Succeeded') ctx.store.resources.deleteTree(id);
        })
        .catch(() => undefined),
    );
  }
}

export function indexResource(ctx: ArmContext, body: Record<string, unknown>): void {
  const envelope: Record<string, unknown> = {};
  for (const key of ENVELOPE_KEYS) if (body[key] !== undefined) envelope[key] = body[key];
  ctx.store.resources.put({ id: String(body.id), owner: 'rp', body: envelope });
}

/** `/mq/a/broker/b` (even number of segments after the namespace) addresses one resource. */
function isResourcePath(rest: string): boolean {
  const segments = rest.split('/').filter(Boolean);
  return segments.length >= 2 && segments.length % 2 === 0 && segments[0]!.toLowerCase() !== 'locations';
}

function typeOfRest(rest: string): string {
  const segments = rest.split('/').filter(Boolean);
  return segments
    .filter((_, i) => i % 2 === 0)
    .map((s) => `/${s}`)
    .join('');
}
