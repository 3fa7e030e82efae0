import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { apiError, type ApiError } from '../common/errors.js';
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
 */
export function createCallerVerifier(identity: IdentityService, audiences: string[]): CallerVerifier {
  const keys = createLocalJWKSet(identity.signingKey.jwks);
  const accepted = new Set(audiences.map((a) => a.replace(/\/+$/, '').toLowerCase()));
  const challenge = (error: ApiError) => {
    Object.assign(error.headers, {
      'www-authenticate': `Bearer authorization_uri="${identity.publicUrl}/common", error="invalid_token", error_description="${error.message.replace(/"/g, "'")}"`,
    });
    return error;
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
    try {
      const { payload } = await jwtVerify(match[1]!, keys, {
        issuer: identity.issuersOf(tenantId),
        algorithms: ['RS256'],
        clockTolerance: 300,
        requiredClaims: ['exp', 'tid', 'aud'],
      });
      const auds = (Array.isArray(payload.aud) ? payload.aud : [payload.aud ?? '']).map((a) => a.replace(/\/+$/, '').toLowerCase());
      if (!auds.some((a) => accepted.has(a))) {
        throw challenge(apiError('InvalidAuthenticationTokenAudience', { audience: String(payload.aud) }));
      }
      return callerOf(payload as ArmCaller['claims'], tenantId);
    } catch (error) {
      if ((error as ApiError).status === 401) throw error;
      if (error instanceof joseErrors.JWTExpired) throw challenge(apiError('ExpiredAuthenticationToken', {}, { cause: error }));
      const reason = error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'iss' ? `The issuer '${String(unverified.iss)}' is not trusted.` : 'The signature or claims are not valid.';
      throw challenge(apiError('InvalidAuthenticationToken', { reason }, { cause: error }));
    }
  };
}

function callerOf(claims: ArmCaller['claims'], tenantId: string): ArmCaller {
  const upn = (claims.upn ?? claims.unique_name ?? claims.preferred_username) as string | undefined;
  const appId = (claims.appid ?? claims.azp) as string | undefined;
  const principalType = typeof claims.xms_mirid === 'string' ? 'ManagedIdentity' : upn && claims.idtyp !== 'app' ? 'User' : 'Application';
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
    throw apiError('InvalidAuthenticationTokenTenant', { issuer: String(caller.claims.iss), tenant: subscriptionTenant });
  }
}
