import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { apiError, type ApiError } from '../common/errors.js';

/** Who is calling, from a validated bearer token. */
export interface Caller {
  claims: JWTPayload & Record<string, unknown>;
  /** UPN for users, app id for applications (what systemData records as createdBy). */
  principalName: string;
  principalType: 'User' | 'Application' | 'ManagedIdentity';
  tenantId?: string;
}

export interface TokenVerifierOptions {
  /** Accepted `iss` values. */
  issuers: string[];
  /** Accepted `aud` values (a trailing `/` is ignored). */
  audiences: string[];
  /**
   * Where the signing keys come from: the issuer's JWKS URL, a key set (tests), or a ready resolver
   * (`iotmq rp`: a remote set fetched through a private CA, which Node's fetch cannot be given).
   */
  jwks: URL | JSONWebKeySet | JWTVerifyGetKey;
  /** Where clients get tokens; goes into WWW-Authenticate. */
  authorizationUri?: string;
}

const MAX_CACHED_TOKENS = 1000;

export type TokenVerifier = (authorization: string | undefined) => Promise<Caller>;

/** Validates `Authorization: Bearer <jwt>`: RS256 signature by JWKS, issuer, audience, expiry (5 min skew). */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keys =
    typeof options.jwks === 'function'
      ? options.jwks
      : options.jwks instanceof URL
        ? createRemoteJWKSet(options.jwks)
        : createLocalJWKSet(options.jwks);
  const audiences = options.audiences.flatMap((a) => [a.replace(/\/$/, ''), `${a.replace(/\/$/, '')}/`]);
  const challenge = (description: string) => ({
    'www-authenticate': `Bearer authorization_uri="${options.authorizationUri ?? options.issuers[0] ?? ''}", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`,
  });
  const fail = (error: ApiError) => {
    throw Object.assign(error, { headers: { ...error.headers, ...challenge(error.message) } });
  };

  // ARM sends the same token on many requests: a verified token is remembered until it expires, so
  // the signature check (an RSA operation) runs once per token rather than once per request.
  const verified = new Map<string, { caller: Caller; expiresAt: number }>();

  return async (authorization) => {
    // Keyed by the whole header: a repeat costs one Map lookup, not a parse of the header first.
    const cached = authorization === undefined ? undefined : verified.get(authorization);
    if (cached && cached.expiresAt > Date.now()) return cached.caller;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match)
      fail(
        apiError('AuthenticationFailed', { reason: "The 'Authorization' header is missing or is not a bearer token." }),
      );
    try {
      const { payload } = await jwtVerify(match![1]!, keys, {
        issuer: options.issuers,
        audience: audiences,
        algorithms: ['RS256'],
        clockTolerance: 300,
        requiredClaims: ['exp'],
      });
      const caller = callerOf(payload as Caller['claims']);
      if (verified.size >= MAX_CACHED_TOKENS) verified.delete(verified.keys().next().value!);
      verified.set(authorization!, { caller, expiresAt: payload.exp! * 1000 });
      return caller;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        return fail(apiError('ExpiredAuthenticationToken', {}, { cause: error }));
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
        const payload = error.payload as JWTPayload;
        return fail(
          apiError('InvalidAuthenticationTokenAudience', { audience: String(payload.aud) }, { cause: error }),
        );
      }
      const reason = error instanceof Error ? error.message : String(error);
      return fail(apiError('InvalidAuthenticationToken', { reason }, { cause: error }));
    }
  };
}

function callerOf(claims: Caller['claims']): Caller {
  const user = claims.upn ?? claims.unique_name ?? claims.preferred_username;
  const app = claims.appid ?? claims.azp;
  const principalType =
    typeof claims.xms_mirid === 'string' ? 'ManagedIdentity' : user && claims.idtyp !== 'app' ? 'User' : 'Application';
  return {
    claims,
    principalName: String(principalType === 'User' ? user : (app ?? claims.sub ?? 'unknown')),
    principalType,
    tenantId: typeof claims.tid === 'string' ? claims.tid : undefined,
  };
}
