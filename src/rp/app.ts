import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { closeExtensibleEnums } from '../api/closed-enums.js';
import { loadOpenApi, PROVIDER_NAMESPACE, SUPPORTED_API_VERSIONS, type OpenApiDocument } from '../api/openapi.js';
import { providerOperations } from '../api/operations.js';
import { buildRegistry } from '../api/registry.js';
import { SchemaValidator } from '../api/validator.js';
import { ApiError, apiError } from '../common/errors.js';
import { componentLogger } from '../common/log.js';
import { parseJsonBody } from '../common/json-body.js';
import { parseRequestTarget, refuseUnreadableRequest } from '../common/request-target.js';
import type { Store } from '../store/index.js';
import { registerAgentApi } from './agent-api.js';
import { cachedArmPathParser, type ArmRoute } from './arm-path.js';
import { createTokenVerifier, type Caller, type TokenVerifier, type TokenVerifierOptions } from './auth.js';
import { ClusterSync } from './cluster-sync.js';
import { cachedCustomLocations, type CustomLocationDirectory } from './custom-locations.js';
import { ResourceSchemas } from './resource-schema.js';
import { ResourceService, type RpRequest, type RpResponse } from './resources.js';
import { putSubscription } from './subscriptions.js';

export interface RpOptions {
  store: Store;
  customLocations: CustomLocationDirectory;
  /** How bearer tokens are validated (issuer's JWKS), or a ready verifier. */
  auth: TokenVerifierOptions | TokenVerifier;
  /**
   * App ids (`appid`/`azp`) allowed on the ARM-facing routes: ARM itself, or the local front door.
   * Anyone else with a valid token gets 403, the one case the contract keeps 403 for [PUT-7, AUTH-4].
   * Unset: any valid token (tests of the RP on its own). The agent API checks its own callers.
   */
  armCallers?: string[];
  /** Default 5 minutes. */
  operationDeadlineMs?: number;
  /** Default 10 s; tests use 1 s [ASYNC-7]. */
  retryAfterSeconds?: number;
  /** How often expired operations are failed. Default 1 s. */
  expiryIntervalMs?: number;
  /**
   * How many revisions of the change feed stay readable (default 100,000). An agent further behind
   * gets 410 and relists, as a Kubernetes watcher would.
   */
  feedRetention?: number;
  /** How long custom-location lookups are remembered. Default 30 s. */
  customLocationCacheMs?: number;
  /** How often the feed is compacted to `feedRetention`. Default 1 minute. */
  compactionIntervalMs?: number;
  bookmarkIntervalMs?: number;
  document?: OpenApiDocument;
  /** Serve HTTPS with this key and certificate chain (PEM); ARM clients refuse plain HTTP. */
  https?: { key: string; cert: string };
}

/** ARM's request size limit; larger bodies get 413 in ARM's error shape. */
export const BODY_LIMIT_BYTES = 4 * 1024 * 1024;
const SUBSCRIPTION_LIFECYCLE_VERSION = '2.0';
const log = componentLogger('rp');

/** The resource provider as a fastify app: every path of the API, the operations API, async status, agent API. */
export async function buildRp(options: RpOptions): Promise<FastifyInstance> {
  // The service's own view of the API: extensible enums closed to the values this version knows.
  const document = closeExtensibleEnums(options.document ?? loadOpenApi());
  const registry = buildRegistry(document);
  const verify = typeof options.auth === 'function' ? options.auth : createTokenVerifier(options.auth);
  const parseRoute = cachedArmPathParser(registry);
  const customLocations = cachedCustomLocations(options.customLocations, options.customLocationCacheMs);
  const sync = new ClusterSync(options.store, customLocations);
  const service = new ResourceService({
    store: options.store,
    validator: new SchemaValidator(document),
    schemas: new ResourceSchemas(document),
    registry,
    customLocations,
    operationDeadlineMs: options.operationDeadlineMs ?? 5 * 60_000,
    retryAfterSeconds: options.retryAfterSeconds ?? 10,
  });
  const operationsList = [
    {
      name: `${PROVIDER_NAMESPACE}/register/action`,
      isDataAction: false,
      display: {
        provider: 'Azure IoT MQ',
        resource: 'Subscription',
        operation: 'Register Provider',
        description: 'Registers the subscription for the provider.',
      },
      origin: 'user,system',
    },
    ...providerOperations(registry),
  ];

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: false,
    clientErrorHandler: refuseUnreadableRequest,
    routerOptions: { maxParamLength: 2048 },
    // Requests the router cannot even decode (e.g. invalid percent-encoding) still get ARM's shape.
    frameworkErrors: (error, _request, reply) => {
      const apiErr = apiError('InvalidRequestContent', { reason: error.message });
      void (reply as unknown as FastifyReply).code(400).type('application/json; charset=utf-8').send(apiErr.toBody());
    },
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;

  // JSON bodies parse here so that bad JSON is an ARM error, not fastify's own shape.
  app.addContentTypeParser(
    ['application/json', 'application/merge-patch+json'],
    { parseAs: 'string' },
    (_request, text, done) => {
      if (text === '' || (typeof text === 'string' && text.trim() === '')) return done(null, undefined);
      try {
        done(null, parseJsonBody(text as string)); // depth-limited: every reader of a body recurses
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );

  // A callback hook, not an async one: it runs on every request and needs no promise.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-ms-request-id', randomUUID());
    const correlation = header(request, 'x-ms-correlation-request-id') ?? randomUUID();
    reply.header('x-ms-correlation-request-id', correlation);
    if (header(request, 'x-ms-return-client-request-id')?.toLowerCase() === 'true') {
      const clientRequestId = header(request, 'x-ms-client-request-id');
      if (clientRequestId) reply.header('x-ms-client-request-id', clientRequestId);
    }
    done();
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const apiErr = toApiError(error, reply);
    if (apiErr.status >= 500) {
      log.error(
        {
          err: error,
          method: request.method,
          url: request.url,
          correlationId: reply.getHeader('x-ms-correlation-request-id'),
        },
        'request failed',
      );
    }
    return reply
      .code(apiErr.status)
      .headers(apiErr.headers)
      .type('application/json; charset=utf-8')
      .send(apiErr.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = apiError('NotFound', { method: request.method, path: request.url.split('?')[0]! });
    return reply.code(404).type('application/json; charset=utf-8').send(error.toBody());
  });

  registerAgentApi(app, { store: options.store, sync, verify, bookmarkIntervalMs: options.bookmarkIntervalMs });

  const armCallers = options.armCallers && new Set(options.armCallers.map((id) => id.toLowerCase()));
  // The caller is checked in onRequest, before the body is read: without a valid token from ARM
  // nobody can make the RP take in (up to 4 MB of) a body first.
  const callers = new WeakMap<FastifyRequest, Caller>();
  const admit = async (request: FastifyRequest) => {
    const caller = await verify(request.headers.authorization);
    const appId = String(caller.claims.appid ?? caller.claims.azp ?? '').toLowerCase();
    if (armCallers && !armCallers.has(appId)) {
      throw apiError('AuthorizationFailed', {
        reason: `The client '${appId || caller.principalName}' is not a trusted ARM caller of this resource provider.`,
      });
    }
    callers.set(request, caller);
  };
  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = callers.get(request)!;
    // The same parser as the front door's: one reading of the path and of api-version [issue 11 item 1].
    const target = parseRequestTarget(request.url);
    const route = parseRoute(target.path);
    if (!route) throw apiError('NotFound', { method: request.method, path: target.path });
    const apiVersion = target.query['api-version'];
    checkApiVersion(route, apiVersion);
    // Built on first use: a GET of one resource, the most frequent call, needs none of it.
    let rpRequest: RpRequest | undefined;
    const rpRequestOf = (): RpRequest =>
      (rpRequest ??= {
        baseUrl: baseUrlOf(request),
        apiVersion: apiVersion!,
        caller,
        systemDataHeader: header(request, 'x-ms-arm-resource-system-data'),
        ifMatch: header(request, 'if-match'),
        ifNoneMatch: header(request, 'if-none-match'),
        query: target.query,
      });
    const response = await dispatch(route, request.method, request.body, rpRequestOf, onBehalfOfClient(request));
    reply.code(response.status);
    if (response.headers) reply.headers(response.headers);
    if (response.json !== undefined) return reply.type('application/json; charset=utf-8').send(response.json);
    if (response.body === undefined) return reply.send();
    return reply.type('application/json; charset=utf-8').send(response.body);
  };

  const dispatch = async (
    route: ArmRoute,
    method: string,
    body: unknown,
    requestOf: () => RpRequest,
    forClient: boolean,
  ): Promise<RpResponse> => {
    const notAllowed = () => apiError('MethodNotAllowed', { method, path: route.kind });
    switch (route.kind) {
      case 'operations':
        if (method !== 'GET') throw notAllowed();
        return { status: 200, body: { value: operationsList } };
      case 'subscription':
        if (method !== 'PUT') throw notAllowed();
        // Lifecycle notifications are ARM's own calls; a request ARM forwards for a client never is one.
        if (forClient) {
          throw apiError('AuthorizationFailed', {
            reason: 'Subscription lifecycle notifications come from ARM itself, not on behalf of a client.',
          });
        }
        return { status: 200, body: await putSubscription(options.store, route.subscriptionId, body) };
      case 'operationStatus':
        if (method !== 'GET') throw notAllowed();
        return service.operations.status(route);
      case 'operationResult':
        if (method !== 'GET') throw notAllowed();
        return service.operations.result(route, requestOf());
      case 'collection': {
        if (method !== 'GET') throw notAllowed();
        const request = requestOf();
        return service.list(route, request, topOf(request.query), request.query.$skipToken ?? request.query.skipToken);
      }
      case 'resource':
        switch (method) {
          case 'GET':
            return service.get(route);
          case 'HEAD': {
            // checkExistence: 204 or 404, no body.
            const found = await service.get(route).then(
              () => true,
              (error: unknown) => (error instanceof ApiError && error.status === 404 ? false : Promise.reject(error)),
            );
            return { status: found ? 204 : 404 };
          }
          case 'PUT':
            return service.put(route, body, requestOf());
          case 'PATCH':
            return service.patch(route, body, requestOf());
          case 'DELETE':
            return service.delete(route, requestOf());
          default:
            throw notAllowed();
        }
    }
  };

  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE', 'POST', 'HEAD', 'OPTIONS'],
    url: '/*',
    onRequest: admit,
    handler: handle,
  });

  const expiry = setInterval(() => {
    sync.expireOperations().catch((error: unknown) => log.error({ err: error }, 'expiring operations failed'));
  }, options.expiryIntervalMs ?? 1000);
  const feedRetention = options.feedRetention ?? 100_000;
  const compaction = setInterval(() => {
    void options.store.feed
      .currentRevision()
      .then((current) =>
        current > feedRetention ? options.store.feed.compactBefore(current - feedRetention) : undefined,
      )
      .catch((error: unknown) => log.error({ err: error }, 'compacting the feed failed'));
  }, options.compactionIntervalMs ?? 60_000);
  expiry.unref();
  compaction.unref();
  app.addHook('onClose', async () => {
    clearInterval(expiry);
    clearInterval(compaction);
  });
  return app;
}

function checkApiVersion(route: ArmRoute, version: string | undefined): void {
  if (version === undefined || version === '') throw apiError('MissingApiVersionParameter');
  const supported = route.kind === 'subscription' ? [SUBSCRIPTION_LIFECYCLE_VERSION] : SUPPORTED_API_VERSIONS;
  if (!supported.includes(version))
    throw apiError('InvalidApiVersionParameter', { version, supported: supported.join(', ') });
}

function topOf(query: Record<string, string>): number | undefined {
  const text = query.$top ?? query.top;
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1000) {
    throw apiError('BadRequest', { message: "'$top' must be an integer from 1 to 1000." }, { target: '$top' });
  }
  return Number(text);
}

/** ARM names the client it forwards a request for in x-ms-client-* headers [HDR-1]; its own calls carry none. */
function onBehalfOfClient(request: FastifyRequest): boolean {
  return CLIENT_HEADERS.some((name) => request.headers[name] !== undefined);
}
const CLIENT_HEADERS = [
  'x-ms-client-tenant-id',
  'x-ms-client-principal-name',
  'x-ms-client-object-id',
  'x-ms-client-app-id',
  'x-ms-client-principal-id',
];

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Absolute URLs use the host the client called, which ARM passes as Referer [HDR-4]. */
function baseUrlOf(request: FastifyRequest): string {
  const referer = header(request, 'referer');
  if (referer) {
    try {
      return new URL(referer).origin;
    } catch {
      // fall through: a bad Referer must not fail the request
    }
  }
  return `${request.protocol}://${request.host}`;
}

/** Everything that escapes a handler becomes ARM's error shape; only real faults are 5xx. */
function toApiError(error: Error & { statusCode?: number; code?: string }, reply: FastifyReply): ApiError {
  if (error instanceof ApiError) return error;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return apiError('RequestTooLarge', { limit: BODY_LIMIT_BYTES });
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return apiError('UnsupportedMediaType', { type: 'given' });
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return apiError('InvalidRequestContent', { reason: error.message });
  }
  const status = (error as { status?: number }).status;
  if (typeof status === 'number' && typeof error.code === 'string' && status >= 400 && status < 500) {
    return new ApiError(status, { code: error.code, message: error.message }); // typed store errors
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError(error.statusCode, { code: 'BadRequest', message: error.message });
  }
  return apiError(
    'InternalServerError',
    { correlationId: String(reply.getHeader('x-ms-correlation-request-id') ?? '') },
    { cause: error },
  );
}
