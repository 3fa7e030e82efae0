import { decodeJwt, type JWTPayload } from 'jose';
import { apiError, type ApiError } from '../common/errors.js';
import { createTokenVerifier, type TokenVerifier } from '../rp/auth.js';
import type { IdentityService } from './identity/index.js';

/** Who called the front door, from a validated token [FD duty 2]. */
export interface ArmCaller {
  claims: JWTPayload & Record<string, unknown>;
  tenantId: string;
  objectId?: string;
  appId?: string;
  /** UPN for users, app id for applications: systemData's createdBy. */
  principalName: string;
  principalType: 'User' | 'Application' | 'ManagedIdentity';
}

export type CallerVerifier = (authorization: string | undefined) => Promise<ArmCaller>;

/**
 * Validates ARM callers' bearer tokens: RS256 by the identity stand-in's keys, `iss` = that tenant's
 * issuer (v1 or v2 form), `aud` one of ARM's audiences, 5 minutes of clock skew. Whether the tenant
 * may use a subscription is checked per route (`checkTenant`).
 *
 * The checks are the RP's `createTokenVerifier`, one per tenant of this directory (the issuer is
 * per tenant), so the front door shares its verified-token cache: clients send the same token for
 * an hour, and the RSA verification then runs once per token instead of once per request.
 */
export function createCallerVerifier(identity: IdentityService, audiences: string[]): CallerVerifier {
  const perTenant = new Map<string, TokenVerifier>();
  const authorizationUri = () => `${identity.publicUrl}/common`;
  const challenge = (error: ApiError) => {
    Object.assign(error.headers, {
      'www-authenticate': `Bearer authorization_uri="${authorizationUri()}", error="invalid_token", error_description="${error.message.replace(/"/g, "'")}"`,
    });
    return error;
  };
  const verifierOf = (tenantId: string) => {
    let verify = perTenant.get(tenantId);
    if (!verify) {
      verify = createTokenVerifier({
        issuers: identity.issuersOf(tenantId),
        audiences,
        jwks: identity.signingKey.jwks,
        authorizationUri: authorizationUri(),
      });
      perTenant.set(tenantId, verify);
    }
    return verify;
  };

  return async (authorization) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) throw challenge(apiError('AuthenticationFailed', { reason: "The 'Authorization' header is missing." }));
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(match[1]!);
    } catch (error) {
      throw challenge(apiError('InvalidAuthenticationToken', { reason: 'The token is malformed.' }, { cause: error }));
    }
    const tenantId = typeof unverified.tid === 'string' ? unverified.tid.toLowerCase() : '';
    // Only tenants of this directory get a verifier (and a cache): a made-up tid is refused here.
    if (!identity.tenantExists(tenantId)) {
      throw challenge(
        apiError('InvalidAuthenticationToken', { reason: `The issuer '${String(unverified.iss)}' is not trusted.` }),
      );
    }
    const { claims } = await verifierOf(tenantId)(authorization);
    return callerOf(claims as ArmCaller['claims'], tenantId);
  };
}

function callerOf(claims: ArmCaller['claims'], tenantId: string): ArmCaller {
  const upn = (claims.upn ?? claims.unique_name ?? claims.preferred_username) as string | undefined;
  const appId = (claims.appid ?? claims.azp) as string | undefined;
  const principalType =
    typeof claims.xms_mirid === 'string' ? 'ManagedIdentity' : upn && claims.idtyp !== 'app' ? 'User' : 'Application';
  return {
    claims,
    tenantId,
    objectId: claims.oid as string | undefined,
    appId,
    principalName: String(principalType === 'User' ? upn : (appId ?? claims.sub ?? 'unknown')),
    principalType,
  };
}

/** 401 when the caller's tenant is not the subscription's home tenant [FD duty 2]. */
export function checkTenant(caller: ArmCaller, subscriptionTenant: string): void {
  if (caller.tenantId !== subscriptionTenant.toLowerCase()) {
    throw apiError('InvalidAuthenticationTokenTenant', {
      issuer: String(caller.claims.iss),
      tenant: subscriptionTenant,
    });
  }
}

const CONNECTED_CLUSTER_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Kubernetes\/connectedClusters\/[^/]+$/i;

/**
 * Least privilege for workload identities: a connected cluster's identity (the token's `xms_mirid`
 * names the cluster; its agent holds it) has no role on ARM. It may call the RP's agent API for its
 * own cluster and nothing else, so a credential taken from a cluster cannot change ARM resources
 * [issue 11 item 9].
 */
export function authorizeArmCaller(caller: ArmCaller): void {
  const identity = caller.claims.xms_mirid;
  if (typeof identity === 'string' && CONNECTED_CLUSTER_ID.test(identity)) {
    throw apiError('AuthorizationFailed', {
      reason: `The client '${caller.appId ?? caller.principalName}' is the identity of the connected cluster '${identity}'; it has no role on Azure Resource Manager and may only use the resource provider's agent API for that cluster.`,
    });
  }
}
