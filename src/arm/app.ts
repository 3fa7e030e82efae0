import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AGENT_API_ROOT } from '../api/agent-protocol.js';
import { ApiError, apiError } from '../common/errors.js';
import { authorizeArmCaller, type ArmCaller, type CallerVerifier } from './caller.js';
import type { ArmContext, ArmRequest, ArmResponse } from './context.js';
import { deploymentRoutes } from './deployments/routes.js';
import { forwardRoutes } from './forward.js';
import { genericResourceRoutes } from './generic-resources.js';
import { registerIdentityRoutes } from './identity/index.js';
import { localResourceRoutes } from './local-resources.js';
import { cloudMetadata, legacyCloudMetadata } from './metadata.js';
import { providerRoutes } from './providers.js';
import { resourceGroupRoutes } from './resource-groups.js';
import { parseRequestTarget, refuseUnreadableRequest, type RequestTarget } from '../common/request-target.js';
import { matchRoute, type Route, type RouteMatch } from './router.js';
import { subscriptionRoutes } from './subscriptions.js';

/** ARM drops request bodies above 4 MB. */
const BODY_LIMIT = 4 * 1024 * 1024;
const AGENT_PREFIX = `${AGENT_API_ROOT}/`;
/** The agent API's paths (duplicate slashes allowed, as the router allows them): `{clusterId}` is an encoded ARM id. */
const AGENT_PATH = /^\/+agent\/+v1\/+clusters\/+[^/?]+\/+(resources|status)\/*(\?|$)/;

export interface ArmAppOptions {
  context: ArmContext;
  tls: { key: string; cert: string };
  /** The RP's loopback URL, for the agent API pass-through. */
  rpUrl: () => string;
  /** Checks a token for the RP (the agent's): signature, issuer, audience — who it is, not what it may do. */
  verifyRpToken?: CallerVerifier;
}

/**
 * The front door: one HTTPS server that is both the token authority (identity stand-in) and ARM
 * (Microsoft.Resources surface, connected clusters, custom locations, deployments, and the proxy
 * to the MQ RP). Only discovery, metadata and token endpoints are anonymous.
 */
export async function buildArmApp(options: ArmAppOptions): Promise<FastifyInstance> {
  const ctx = options.context;
  const app = Fastify({
    https: { key: options.tls.key, cert: options.tls.cert },
    logger: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 4096, ignoreDuplicateSlashes: true },
    return503OnClosing: false,
    forceCloseConnections: true,
    clientErrorHandler: refuseUnreadableRequest,
  });
  app.removeAllContentTypeParsers();
  await registerIdentityRoutes(app, ctx.identity);
  // Bodies stay text: forwarded byte for byte, and deployment templates may carry comments [RES-7].
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, text, done) => done(null, text));

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: /^\/metadata\/endpoints$/i,
      anonymous: true,
      handler: async (request) => ({
        status: 200,
        body:
          request.query['api-version'] === '2015-01-01'
            ? legacyCloudMetadata(ctx.publicUrl())
            : cloudMetadata(ctx.publicUrl()),
      }),
    },
    ...subscriptionRoutes(ctx),
    ...providerRoutes(ctx),
    ...resourceGroupRoutes(ctx),
    ...deploymentRoutes(ctx),
    ...genericResourceRoutes(ctx),
    ...localResourceRoutes(ctx),
    ...forwardRoutes(ctx),
  ];

  // Every request target is checked and made canonical before any route sees it: routes match,
  // authorise and forward the canonical form only (dot segments, encoded separators and repeated
  // query parameters are refused) [issue 11 item 1].
  const targets = new WeakMap<FastifyRequest, RequestTarget>();
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-ms-request-id', randomUUID());
    const correlation = first(request.headers['x-ms-correlation-request-id']) ?? randomUUID();
    reply.header('x-ms-correlation-request-id', correlation);
    targets.set(request, parseRequestTarget(request.url, { encodedSlash: AGENT_PATH.test(request.url) }));
  });
  const targetOf = (request: FastifyRequest) => targets.get(request) ?? parseRequestTarget(request.url);

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const apiErr =
      error instanceof ApiError
        ? error
        : error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? apiError('RequestTooLarge', { limit: BODY_LIMIT })
          : error.statusCode && error.statusCode < 500
            ? new ApiError(error.statusCode, { code: 'BadRequest', message: error.message })
            : apiError(
                'InternalServerError',
                { correlationId: String(reply.getHeader('x-ms-correlation-request-id') ?? '') },
                { cause: error },
              );
    if (apiErr.status >= 500)
      ctx.log.error({ err: error, method: request.method, path: targets.get(request)?.path }, 'request failed');
    return reply
      .code(apiErr.status)
      .headers(apiErr.headers)
      .type('application/json; charset=utf-8')
      .send(apiErr.toBody());
  });

  // The agent API passes through to the RP with the agent's own token (the RP checks its xms_mirid).
  // The token is checked here too, before a status report's body is read: without one nobody makes
  // the front door take in a body for the RP to refuse.
  const verifyRpToken = options.verifyRpToken;
  app.route({
    method: ['GET', 'POST'],
    url: `${AGENT_PREFIX}*`,
    ...(verifyRpToken
      ? {
          onRequest: async (request: FastifyRequest) =>
            void (await verifyRpToken(first(request.headers.authorization))),
        }
      : {}),
    handler: async (request, reply) => {
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'accept']) {
        const value = first(request.headers[name]);
        if (value) headers[name] = value;
      }
      // Abort the upstream call when the agent goes away (a watch held for minutes), which the
      // response's 'close' before it finished tells. Not the request's 'close': that fires as soon
      // as a POST body has been read, and aborted every status report mid-flight.
      const abort = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const response = await fetch(`${options.rpUrl()}${targetOf(request).pathAndQuery}`, {
        method: request.method,
        headers,
        body: request.method === 'POST' ? (request.body as string) : undefined,
        signal: abort.signal,
      });
      reply.code(response.status);
      for (const name of ['content-type', 'cache-control', 'www-authenticate']) {
        const value = response.headers.get(name);
        if (value) reply.header(name, value);
      }
      return reply.send(
        response.body ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream) : undefined,
      );
    },
  });

  // Routed and authenticated before the body is read: a caller without a valid token cannot make
  // the front door take in (up to 4 MB of) a body first [issue 11, exhaustion before authentication].
  const admitted = new WeakMap<FastifyRequest, { match: RouteMatch; caller?: ArmCaller }>();
  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE', 'POST', 'HEAD'],
    url: '/*',
    onRequest: async (request: FastifyRequest) => {
      const path = targetOf(request).path;
      const match = matchRoute(routes, request.method, path);
      if (!match) throw apiError('NotFound', { method: request.method, path });
      if ('methodNotAllowed' in match) throw apiError('MethodNotAllowed', { method: request.method, path });
      let caller: ArmCaller | undefined;
      if (!match.route.anonymous) {
        caller = await ctx.verifyCaller(first(request.headers.authorization));
        authorizeArmCaller(caller);
      }
      admitted.set(request, { match, caller });
    },
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const target = targetOf(request);
      const path = target.path;
      const { match, caller } = admitted.get(request)!;
      const armRequest: ArmRequest = {
        method: request.method,
        path,
        url: target.pathAndQuery,
        query: target.query,
        params: match.params,
        headers: request.headers,
        bodyText: typeof request.body === 'string' ? request.body : '',
        // Anonymous routes never read it.
        caller: caller as ArmCaller,
        correlationId: String(reply.getHeader('x-ms-correlation-request-id')),
        clientIp: request.ip,
      };
      const response = await match.route.handler(armRequest);
      return send(reply, response, request.method === 'HEAD');
    },
  });

  ctx.dispatch = async (method, pathAndQuery, body, headers) => {
    const response = await app.inject({
      method: method as 'GET',
      url: pathAndQuery,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    const responseHeaders = new Headers();
    for (const [k, v] of Object.entries(response.headers))
      if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : String(v));
    let parsed: unknown;
    try {
      parsed = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      parsed = response.body;
    }
    return { status: response.statusCode, headers: responseHeaders, body: parsed };
  };

  app.addHook('onClose', async () => {
    await ctx.close();
  });
  return app;
}

function send(reply: FastifyReply, response: ArmResponse, head: boolean) {
  reply.code(response.status);
  if (response.headers) reply.headers(response.headers);
  if (head) return reply.send();
  if (response.text !== undefined)
    return response.text === ''
      ? reply.send()
      : reply
          .type((reply.getHeader('content-type') as string) ?? 'application/json; charset=utf-8')
          .send(response.text);
  if (response.body === undefined) return reply.send();
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(response.body));
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
