import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { componentLogger } from '../../common/log.js';
import { AadError, aadError } from './aad-errors.js';
import { ADFS_TENANT, type IdentityService, type TokenVersion } from './service.js';

const log = componentLogger('arm.identity');
/** Scopes MSAL adds to every request; they name no resource [AAD-2]. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/**
 * The Azure AD endpoints clients call [AAD-1, AAD-2]: OpenID discovery (v2, v1 and ADFS layouts),
 * JWKS and the client-credentials token endpoints. All anonymous, like AAD's.
 */
export async function registerIdentityRoutes(app: FastifyInstance, identity: IdentityService): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, text, done) => {
    done(null, Object.fromEntries(new URLSearchParams(text as string)));
  });

  const discovery = (tenant: string, layout: 'v2' | 'v1' | 'adfs') => {
    const base = identity.publicUrl;
    const root = `${base}/${tenant}`;
    const v = layout === 'v2' ? '/v2.0' : '';
    const oauth = layout === 'v2' ? `${root}/oauth2/v2.0` : `${root}/oauth2`;
    return {
      // MSAL reads the tenant from the first path segment of token_endpoint [AAD-1].
      token_endpoint: `${oauth}/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${root}/discovery${v}/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: layout === 'v2' ? `${root}/v2.0` : layout === 'v1' ? `${root}/` : root,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${oauth}/authorize`,
      device_authorization_endpoint: `${oauth}/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${oauth}/logout`,
      claims_supported: [
        'sub',
        'iss',
        'aud',
        'exp',
        'iat',
        'nbf',
        'tid',
        'oid',
        'appid',
        'azp',
        'idtyp',
        'ver',
        'xms_mirid',
      ],
      tenant_region_scope: 'NA',
      cloud_instance_name: new URL(base).host,
      cloud_graph_host_name: new URL(base).host,
      msgraph_host: new URL(base).host,
    };
  };

  const knownTenant = (tenant: string, reply: FastifyReply): boolean => {
    if (
      tenant.toLowerCase() === ADFS_TENANT ||
      tenant.toLowerCase() === 'common' ||
      tenant.toLowerCase() === 'organizations'
    )
      return true;
    if (identity.tenantExists(tenant)) return true;
    const error = aadError('unknownTenant', { tenant });
    void reply.code(400).send(error.body);
    return false;
  };

  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/.well-known/openid-configuration', async (request, reply) => {
    if (!knownTenant(request.params.tenant, reply)) return reply;
    return discovery(request.params.tenant, 'v2');
  });
  app.get<{ Params: { tenant: string } }>('/:tenant/.well-known/openid-configuration', async (request, reply) => {
    if (!knownTenant(request.params.tenant, reply)) return reply;
    const tenant = request.params.tenant;
    return discovery(tenant, tenant.toLowerCase() === ADFS_TENANT ? 'adfs' : 'v1');
  });
  const keys = async () => identity.signingKey.jwks;
  app.get('/:tenant/discovery/v2.0/keys', keys);
  app.get('/:tenant/discovery/keys', keys);

  for (const [path, version] of [
    ['/:tenant/oauth2/v2.0/token', '2.0'],
    ['/:tenant/oauth2/token', '1.0'],
  ] as const) {
    app.post<{ Params: { tenant: string } }>(path, async (request, reply) => token(request, reply, version));
  }
  const unsupported = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.code(400).send(aadError('unsupportedGrant', { grantType: 'interactive' }).body);
  app.get('/:tenant/oauth2/v2.0/authorize', unsupported);
  app.get('/:tenant/oauth2/authorize', unsupported);

  async function token(
    request: FastifyRequest<{ Params: { tenant: string } }>,
    reply: FastifyReply,
    endpointVersion: TokenVersion,
  ) {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    try {
      const form = (request.body ?? {}) as Record<string, string>;
      const basic = basicCredentials(request.headers.authorization);
      const grantType = form.grant_type;
      if (grantType !== 'client_credentials') throw aadError('unsupportedGrant', { grantType: grantType ?? '' });
      const tenant = request.params.tenant;
      // ADFS takes `resource` like the v1 endpoint; MSAL sends `scope` to both, so accept either [AAD-7].
      const resource = form.resource ?? resourceOfScope(form.scope);
      const version: TokenVersion = tenant.toLowerCase() === ADFS_TENANT ? '1.0' : endpointVersion;
      const gone = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      const issued = await identity.clientCredentials({
        tenant,
        clientId: form.client_id ?? basic?.clientId,
        clientSecret: form.client_secret ?? basic?.clientSecret,
        resource,
        version,
        source: request.ip,
        signal: gone.signal,
      });
      log.info({ clientId: form.client_id ?? basic?.clientId, tenant, resource }, 'token issued');
      return reply.code(200).send(issued);
    } catch (error) {
      if (error instanceof AadError) {
        log.info(
          { tenant: request.params.tenant, error: error.body.error, codes: error.body.error_codes },
          'token refused',
        );
        if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
        return reply.code(error.status).send(error.body);
      }
      throw error;
    }
  }
}

function resourceOfScope(scope: string | undefined): string {
  if (!scope) throw aadError('missingParameter', { name: 'scope' });
  const named = scope.split(/\s+/).filter((s) => s && !OIDC_SCOPES.has(s));
  const resource = named.find((s) => s.endsWith('/.default'));
  if (!resource || named.length !== 1) throw aadError('invalidScope', { scope });
  return resource.slice(0, -'/.default'.length) || resource;
}

function basicCredentials(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const text = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
  const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  return { clientId: decode(text.slice(0, colon)), clientSecret: decode(text.slice(colon + 1)) };
}
