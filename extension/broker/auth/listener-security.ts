// Builds each listener's security (authentication chain, enhanced methods, authorizer) from the
// config and the mounted secrets. Called at start and on every reload.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { configMapDir, secretFile, type AuthenticationMethodSpec, type BrokerConfig } from '../config.js';
import { createAuthorizer } from './authorization.js';
import { createAuthenticationChain } from './chain.js';
import { createCustomMethod } from './custom.js';
import { createSatMethod } from './sat.js';
import type { AuthenticationMethod, Authorizer, ListenerSecurity } from './types.js';
import { PASSWORD_DB_KEY, createUsernamePasswordMethod } from './username-password.js';
import { X509_ATTRIBUTES_KEY, createX509Method } from './x509.js';

const DENY_ALL: Authorizer = { canConnect: () => false, canPublish: () => false, canSubscribe: () => false };

export interface SecurityPlan {
  security: (listener: string) => ListenerSecurity;
  /** PEM bundle of trusted client CAs per listener (for the TLS handshake's certificate request). */
  clientCa: Map<string, string>;
}

export function buildSecurity(config: BrokerConfig): SecurityPlan {
  const byListener = new Map<string, ListenerSecurity>();
  const clientCa = new Map<string, string>();
  for (const l of config.listeners) {
    const authn = config.authentications?.find((a) => a.spec.listenerRef.includes(l.name));
    const authz = config.authorizations?.find((a) => a.spec.listenerRef.includes(l.name));
    const authenticationOn = l.spec.authenticationEnabled === true && authn !== undefined;
    const methods = authenticationOn ? authn.spec.authenticationMethods.map((m) => createMethod(config, m)) : [];
    const ca = authenticationOn
      ? authn.spec.authenticationMethods.flatMap((m) => (m.x509 ? [readConfigMapPem(config, clientCaOf(m.x509))] : []))
      : [];
    if (ca.length > 0) clientCa.set(l.name, ca.join('\n'));
    // Authorization only takes effect with authentication (section 1 BrokerAuthorization); enabled
    // without a linked BrokerAuthorization, nothing is allowed (allow-list model).
    let authorizer: Authorizer | null = null;
    if (l.spec.authorizationEnabled === true && authenticationOn)
      authorizer = authz ? createAuthorizer(authz.spec.authorizationPolicies) : DENY_ALL;
    byListener.set(l.name, {
      authenticate: authenticationOn ? createAuthenticationChain(methods) : null,
      enhancedMethod: (name) => methods.find((m) => m.enhanced?.name === name)?.enhanced,
      authorizer,
    });
  }
  return {
    security: (listener) => {
      const s = byListener.get(listener);
      if (!s) throw new Error(`unknown listener ${listener}`);
      return s;
    },
    clientCa,
  };
}

// The config loader checked each method: exactly one kind, a secretName wherever a secret is read,
// defaults filled in (validateConfig); the `!`s below rely on it.
function createMethod(config: BrokerConfig, spec: AuthenticationMethodSpec): AuthenticationMethod {
  if (spec.usernamePassword)
    return createUsernamePasswordMethod(secretFile(config, spec.usernamePassword.secretName!, PASSWORD_DB_KEY));
  if (spec.x509) {
    const attributes = spec.x509.attributes?.secretName;
    return createX509Method({
      trustedCaPem: readConfigMapPem(config, clientCaOf(spec.x509)),
      attributesToml: attributes
        ? readFileSync(secretFile(config, attributes, X509_ATTRIBUTES_KEY), 'utf8')
        : undefined,
    });
  }
  if (spec.sat) {
    const k = config.kubernetes!;
    return createSatMethod({
      audiences: spec.sat.audiences,
      apiServer: k.tokenReviewUrl,
      token: k.tokenFile ? readFileSync(k.tokenFile, 'utf8').trim() : undefined,
      ca: k.caFile ? readFileSync(k.caFile, 'utf8') : undefined,
    });
  }
  const c = spec.custom!;
  const clientSecret = c.auth?.x509?.secretName;
  return createCustomMethod({
    endpoint: c.endpoint,
    headers: c.headers,
    ca: c.caCertConfigMap ? readConfigMapPem(config, c.caCertConfigMap) : undefined,
    clientCert: clientSecret ? readFileSync(secretFile(config, clientSecret, 'tls.crt'), 'utf8') : undefined,
    clientKey: clientSecret ? readFileSync(secretFile(config, clientSecret, 'tls.key'), 'utf8') : undefined,
  });
}

function clientCaOf(x509: NonNullable<AuthenticationMethodSpec['x509']>): string {
  return x509.trustedClientCaCertConfigMap!;
}

/** Every certificate in a ConfigMap, whatever its keys (docs: `client_ca.pem`; later any key). */
function readConfigMapPem(config: BrokerConfig, name: string): string {
  const dir = configMapDir(config, name);
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && statSync(path.join(dir, f)).isFile())
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .filter((text) => text.includes('-----BEGIN CERTIFICATE-----'))
    .join('\n');
}
