import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ArmStore, ServicePrincipal } from '../store.js';
import { aadError } from './aad-errors.js';
import type { SigningKey } from './keys.js';
import { createSecretChecker, Throttled } from './secret-checks.js';
import { generateClientSecret, hashSecret } from './secrets.js';

/** Token lifetime: AAD's default for app tokens is 60–90 minutes. */
const TOKEN_LIFETIME_S = 3600;
/** The pseudo-tenant of an ADFS-style authority: az CLI/MSAL call it `adfs` [AAD-7]. */
export const ADFS_TENANT = 'adfs';

export type TokenVersion = '1.0' | '2.0';

export interface IssuedToken {
  token_type: 'Bearer';
  expires_in: number;
  ext_expires_in: number;
  expires_on?: string;
  not_before?: string;
  resource?: string;
  access_token: string;
}

export interface IdentityService {
  readonly publicUrl: string;
  readonly signingKey: SigningKey;
  /** The tenant an ADFS-style authority stands for. */
  readonly adfsTenant: string;
  issuerOf(tenantId: string, version: TokenVersion): string;
  tenantExists(tenantId: string): boolean;
  /** Every issuer this service signs as for a tenant (v1 and v2 forms). */
  issuersOf(tenantId: string): string[];
  knownAudiences(): string[];
  createServicePrincipal(input: {
    tenantId: string;
    displayName: string;
    clientId?: string;
    managedIdentityResourceId?: string;
  }): Promise<{ principal: ServicePrincipal; clientSecret: string }>;
  /** A new secret for an existing principal (the old one stops working). */
  resetSecret(clientId: string): Promise<string>;
  /** client_credentials: checks the secret (scrypt) and issues an access token for `resource`. */
  clientCredentials(input: {
    tenant: string;
    clientId?: string;
    clientSecret?: string;
    resource: string;
    version: TokenVersion;
    /** The client's address: its share of the secret checks is bounded. */
    source?: string;
    /** Aborted when the client has gone away: its secret check is skipped. */
    signal?: AbortSignal;
  }): Promise<IssuedToken>;
}

export interface IdentityServiceOptions {
  store: ArmStore;
  signingKey: SigningKey;
  /** `https://host:port`, no trailing slash: authority host and issuer base (known once the server listens). */
  publicUrl: () => string;
  /** Resources (token audiences) this directory knows; others get AADSTS500011. */
  audiences: () => string[];
  adfsTenant: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createIdentityService(options: IdentityServiceOptions): IdentityService {
  const { store, signingKey } = options;
  const publicUrl = () => options.publicUrl();
  const normalise = (aud: string) => aud.replace(/\/+$/, '').toLowerCase();
  const audiences = () => options.audiences();

  const secrets = createSecretChecker();
  const issuerOf = (tenantId: string, version: TokenVersion) =>
    version === '2.0' ? `${publicUrl()}/${tenantId}/v2.0` : `${publicUrl()}/${tenantId}/`;

  return {
    get publicUrl() {
      return publicUrl();
    },
    signingKey,
    adfsTenant: options.adfsTenant,
    issuerOf,
    tenantExists: (tenantId) => GUID.test(tenantId) && store.tenants.get(tenantId) !== undefined,
    issuersOf: (tenantId) => [issuerOf(tenantId, '2.0'), issuerOf(tenantId, '1.0')],
    knownAudiences: audiences,

    async createServicePrincipal(input) {
      const clientSecret = generateClientSecret();
      const principal: ServicePrincipal = {
        clientId: (input.clientId ?? randomUUID()).toLowerCase(),
        tenantId: input.tenantId.toLowerCase(),
        objectId: randomUUID(),
        displayName: input.displayName,
        secretHash: await hashSecret(clientSecret),
        managedIdentityResourceId: input.managedIdentityResourceId,
      };
      store.principals.put(principal);
      return { principal, clientSecret };
    },

    async resetSecret(clientId) {
      const principal = store.principals.get(clientId);
      if (!principal) throw new Error(`no service principal ${clientId}`);
      const clientSecret = generateClientSecret();
      store.principals.put({ ...principal, secretHash: await hashSecret(clientSecret) });
      return clientSecret;
    },

    async clientCredentials(input) {
      const tenantId = input.tenant.toLowerCase() === ADFS_TENANT ? options.adfsTenant : input.tenant.toLowerCase();
      if (!GUID.test(tenantId) || !store.tenants.get(tenantId))
        throw aadError('unknownTenant', { tenant: input.tenant });
      if (!input.clientId) throw aadError('missingParameter', { name: 'client_id' });
      if (!input.clientSecret) throw aadError('missingCredential');
      const found = store.principals.get(input.clientId);
      const principal = found && found.tenantId === tenantId ? found : undefined;
      // An unknown client gets the same answer after the same work as a wrong secret: neither the
      // message nor its timing tells which client ids exist [issue 11 item 5].
      let ok: boolean;
      try {
        ok = await secrets.verify({
          source: input.source ?? '',
          clientId: input.clientId.toLowerCase(),
          secret: input.clientSecret,
          secretHash: principal?.secretHash,
          signal: input.signal,
        });
      } catch (error) {
        if (error instanceof Throttled) throw aadError('throttled', {}, { retryAfterSeconds: error.retryAfterSeconds });
        throw error;
      }
      if (!ok || !principal) throw aadError('invalidSecret');
      const audience = audiences().find((a) => normalise(a) === normalise(input.resource));
      if (!audience) throw aadError('invalidResource', { resource: input.resource, tenant: tenantId });

      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        aud: input.resource, // the resource as asked, trailing slash kept [AAD-3]
        iss: issuerOf(tenantId, input.version),
        iat: now,
        nbf: now - 300,
        exp: now + TOKEN_LIFETIME_S,
        tid: tenantId,
        oid: principal.objectId,
        sub: principal.objectId,
        idtyp: 'app',
        ver: input.version,
        uti: randomUUID().replace(/-/g, ''),
        // v1 tokens name the client `appid`/`appidacr`, v2 tokens `azp`/`azpacr`; ARM and the RP read either.
        ...(input.version === '1.0'
          ? { appid: principal.clientId, appidacr: '1' }
          : { azp: principal.clientId, azpacr: '1', appid: principal.clientId }),
        app_displayname: principal.displayName,
        ...(principal.managedIdentityResourceId ? { xms_mirid: principal.managedIdentityResourceId } : {}),
      };
      const accessToken = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signingKey.kid })
        .sign(signingKey.privateKey);
      return {
        token_type: 'Bearer',
        expires_in: TOKEN_LIFETIME_S,
        ext_expires_in: TOKEN_LIFETIME_S,
        ...(input.version === '1.0'
          ? { expires_on: String(now + TOKEN_LIFETIME_S), not_before: String(now - 300), resource: input.resource }
          : {}),
        access_token: accessToken,
      };
    },
  };
}
