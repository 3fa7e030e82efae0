import type { ResourceTypeRegistry } from '../api/registry.js';
import { apiError } from '../common/errors.js';
import { parseJsonBody } from '../common/json-body.js';
import type { Logger } from '../common/log.js';
import { checkTenant, type ArmCaller, type CallerVerifier } from './caller.js';
import type { IdentityService } from './identity/index.js';
import type { JsonBody, RpClient } from './rp-client.js';
import type { ArmStore, ResourceGroup, Subscription } from './store.js';

/** What every front-door handler shares. */
export interface ArmContext {
  store: ArmStore;
  identity: IdentityService;
  rp: RpClient;
  registry: ResourceTypeRegistry;
  verifyCaller: CallerVerifier;
  /** `https://host:port`, known once the server listens. */
  publicUrl(): string;
  retryAfterSeconds: number;
  /** Cap on the FD's own polling interval of RP operations. */
  maxPollMs: number;
  log: Logger;
  /** Aborted on shutdown: background work (RG cascade, deployments) stops. */
  signal: AbortSignal;
  /** Resolves once the front door and the RP both listen. */
  ready: Promise<void>;
  /** Background work, awaited on close. */
  track(work: Promise<unknown>): void;
  /**
   * A request through the front door itself (auth, checks, forwarding: the same path as a client's),
   * for the deployment engine. Set once the app is built.
   */
  dispatch(
    method: string,
    pathAndQuery: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: JsonBody }>;
  /** Aborts background work and waits for it. */
  close(): Promise<void>;
}

/** One request as the handlers see it. Names in `params` keep the caller's casing. */
export interface ArmRequest {
  method: string;
  /** Canonical path without query (`parseRequestTarget`): `//` collapsed, no trailing `/`, no dot segments. */
  path: string;
  /** Canonical path and query: what was routed and authorised, and so what is forwarded. */
  url: string;
  query: Record<string, string>;
  params: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  bodyText: string;
  caller: ArmCaller;
  correlationId: string;
  clientIp: string;
}

export interface ArmResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw text (forwarded RP bodies stay byte-identical). */
  text?: string;
}

export function header(request: ArmRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The request body parsed, malformed or too deeply nested JSON refused with 400 [issue 11 item 10]. */
export function jsonBody(request: ArmRequest): JsonBody {
  if (request.bodyText.trim() === '') return undefined;
  return parseJsonBody(request.bodyText);
}

/** The subscription of the path, owned by the caller's tenant [FD duty 2, 3]. */
export function subscriptionOf(
  ctx: ArmContext,
  request: ArmRequest,
  subscriptionId = request.params.subscriptionId!,
): Subscription {
  const subscription = ctx.store.subscriptions.get(subscriptionId);
  if (!subscription) throw apiError('SubscriptionNotFound', { subscriptionId });
  checkTenant(request.caller, subscription.tenantId);
  return subscription;
}

/**
 * ARM's linked access check: a resource that names another one (a custom location its cluster, an
 * MQ resource its custom location) may only name what the caller could read itself — a resource in
 * a subscription of the caller's tenant. One answer whether the linked subscription is foreign or
 * does not exist, so the check reveals nothing [issue 11 item 9].
 */
export function checkLinkedAccess(ctx: ArmContext, request: ArmRequest, linkedId: string, action: string): void {
  const subscriptionId = /^\/subscriptions\/([^/]+)\//i.exec(linkedId)?.[1];
  const subscription = subscriptionId === undefined ? undefined : ctx.store.subscriptions.get(subscriptionId);
  if (!subscription || subscription.tenantId.toLowerCase() !== request.caller.tenantId) {
    throw apiError('LinkedAuthorizationFailed', {
      client: request.caller.appId ?? request.caller.principalName,
      linked: linkedId,
      action,
    });
  }
}

export function resourceGroupOf(
  ctx: ArmContext,
  request: ArmRequest,
  name = request.params.resourceGroup!,
): ResourceGroup {
  const subscription = subscriptionOf(ctx, request);
  const group = ctx.store.resourceGroups.get(subscription.id, name);
  if (!group) throw apiError('ResourceGroupNotFound', { resourceGroup: name });
  return group;
}

export function requireApiVersion(request: ArmRequest): string {
  const version = request.query['api-version'];
  if (!version) throw apiError('MissingApiVersionParameter');
  // Microsoft.Resources routes take any well-formed version so CLI upgrades don't break [ID-8 FD].
  if (
    !/^\d{4}-\d{2}-\d{2}(-(preview|alpha|beta|rc|privatepreview))?$/.test(version) &&
    version !== '2.0' &&
    version !== '1.0'
  ) {
    throw apiError('InvalidApiVersionParameter', { version, supported: 'YYYY-MM-DD[-preview]' });
  }
  return version;
}

/** ISO timestamp with 7 fractional digits, as ARM writes them [SHAPE-6]. */
export function armTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}
