// The broker's configuration file (`iotmq broker --config FILE`), rendered by the operator from
// the Broker, BrokerListener, BrokerAuthentication and BrokerAuthorization custom resources.
// JSON; each `spec` is the CR spec (= the ARM `properties`) with the API's field names:
//
// {
//   "broker": { "name": "broker", "spec": { "mode": "auto"|"distributed", "memoryProfile": "tiny"|"low"|"medium"|"high",
//                                           "diagnostics": {...}, "cardinality": {...}, ... } },
//   "listeners": [ { "name": "listener", "spec": {
//       "brokerRef": "broker", "port": 8883, "serviceType": "clusterIp", "serviceName": "aio-mq-dmqtt-frontend",
//       "authenticationEnabled": true, "authorizationEnabled": false,
//       "tls": { "automatic": { "issuerRef": {...}, "san": { "dns": [..], "ip": [..] } } } | { "manual": { "secretName": "s" } },
//       "protocol": "mqtt" | "websockets" } } ],        // iotmq extension, see below
//   "authentications": [ { "name": "authn", "spec": { "listenerRef": ["listener"], "authenticationMethods": [
//       { "usernamePassword": { "secretName": "pw" } },                      // <secrets>/pw/passwords.toml
//       { "x509": { "trustedClientCaCert": "client-ca",                     // <configMaps>/client-ca/*.pem|crt
//                   "attributes": { "secretName": "x509-attrs" } } },        // <secrets>/x509-attrs/x509Attributes.toml
//       { "sat": { "audiences": ["aio-mq"] } },                              // needs "kubernetes" below
//       { "custom": { "endpoint": "https://auth:8443", "caCert": "auth-ca",  // <configMaps>/auth-ca/*
//                     "auth": { "x509": { "secretName": "auth-client" } },   // <secrets>/auth-client/tls.crt, tls.key
//                     "headers": { "k": "v" } } } ] } } ],
//   "authorizations": [ { "name": "authz", "spec": { "listenerRef": ["listener"], "authorizationPolicies": {
//       "enableCache": false, "rules": [ { "principals": { "clientids": [..], "usernames": [..], "attributes": [ { "k": "v" } ] },
//                                           "brokerResources": [ { "method": "Connect"|"Publish"|"Subscribe", "topics": [..] } ] } ] } } } ],
//   "mounts": { "secrets": "/etc/iotmq/secrets", "configMaps": "/etc/iotmq/configmaps" },
//   "dataDir": "/var/lib/iotmq/broker",
//   "bindAddress": "0.0.0.0",
//   "metricsPort": 9600,                                                     // optional: Prometheus /metrics
//   "kubernetes": { "tokenReviewUrl": "https://kubernetes.default.svc", "caFile": "...", "tokenFile": "..." }  // optional, SAT
// }
//
// Mounts: a Secret N with key K is the file <mounts.secrets>/N/K, exactly as a Kubernetes secret
// volume mount lays it out; the same for ConfigMaps. A manual TLS secret holds `tls.crt` / `tls.key`.
//
// iotmq extension: the v1beta1 BrokerListener has no protocol field (the product speaks MQTT over
// TCP/TLS only), so a listener may carry `"protocol": "websockets"` to serve MQTT over WebSocket
// (subprotocol `mqtt`, any path); the default is "mqtt". `kubernetes.tokenReviewUrl` is the API
// server's base URL (or the full `/apis/authentication.k8s.io/v1/tokenreviews` URL).
//
// These types are hand-written until the generated API types (src/api/) can be imported; they
// live only here so switching is one file.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type MemoryProfile = 'tiny' | 'low' | 'medium' | 'high';

export interface BrokerSpec {
  mode?: 'auto' | 'distributed';
  memoryProfile?: MemoryProfile;
  diagnostics?: Record<string, unknown>;
  cardinality?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ListenerTls {
  automatic?: {
    issuerRef?: Record<string, unknown>;
    san?: { dns?: string[]; ip?: string[] };
    [field: string]: unknown;
  };
  manual?: { secretName: string; secretNamespace?: string };
}

export interface ListenerSpec {
  brokerRef: string;
  port: number;
  serviceType?: 'clusterIp' | 'loadBalancer' | 'nodePort';
  serviceName?: string;
  authenticationEnabled?: boolean;
  authorizationEnabled?: boolean;
  tls?: ListenerTls;
  /** iotmq extension: MQTT over TCP/TLS (default) or over WebSocket. */
  protocol?: 'mqtt' | 'websockets';
}

export type AuthenticationMethodSpec =
  | { usernamePassword: { secretName: string } }
  | { x509: { trustedClientCaCert: string; attributes?: { secretName: string } } }
  | { sat: { audiences: string[] } }
  | {
      custom: {
        endpoint: string;
        caCert?: string;
        auth?: { x509?: { secretName: string } };
        headers?: Record<string, string>;
      };
    };

export interface AuthenticationSpec {
  listenerRef: string[];
  authenticationMethods: AuthenticationMethodSpec[];
}

export type BrokerResourceMethod = 'Connect' | 'Publish' | 'Subscribe';

export interface AuthorizationRule {
  principals: { clientids?: string[]; usernames?: string[]; attributes?: Array<Record<string, string>> };
  brokerResources: Array<{ method: BrokerResourceMethod; topics?: string[] }>;
}

export interface AuthorizationSpec {
  listenerRef: string[];
  authorizationPolicies: { enableCache?: boolean; rules?: AuthorizationRule[] };
}

export interface Named<T> {
  name: string;
  spec: T;
}

export interface BrokerConfig {
  broker: Named<BrokerSpec>;
  listeners: Array<Named<ListenerSpec>>;
  authentications?: Array<Named<AuthenticationSpec>>;
  authorizations?: Array<Named<AuthorizationSpec>>;
  mounts?: { secrets?: string; configMaps?: string };
  dataDir?: string;
  bindAddress?: string;
  metricsPort?: number;
  kubernetes?: { tokenReviewUrl: string; caFile?: string; tokenFile?: string };
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`broker config: ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(file: string): BrokerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, `cannot read JSON (${(err as Error).message})`);
  }
  const config = validateConfig(raw);
  // relative paths are relative to the config file, like a mounted volume next to it
  const base = path.dirname(path.resolve(file));
  const resolve = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(base, p));
  return {
    ...config,
    dataDir: resolve(config.dataDir),
    mounts: config.mounts && { secrets: resolve(config.mounts.secrets), configMaps: resolve(config.mounts.configMaps) },
  };
}

// ---- validation (by hand: one small schema, and errors must name the field) ----------------

type Obj = Record<string, unknown>;

export function validateConfig(raw: unknown): BrokerConfig {
  const root = obj(raw, '$');
  const broker = named(root.broker, 'broker');
  const spec = obj(broker.spec, 'broker.spec');
  optEnum(spec.mode, 'broker.spec.mode', ['auto', 'distributed']);
  optEnum(spec.memoryProfile, 'broker.spec.memoryProfile', ['tiny', 'low', 'medium', 'high']);

  const listeners = arr(root.listeners, 'listeners');
  if (listeners.length === 0) throw new ConfigError('listeners', 'at least one listener is required');
  const names = new Set<string>();
  listeners.forEach((l, i) => {
    const at = `listeners[${i}]`;
    const n = named(l, at);
    if (names.has(n.name)) throw new ConfigError(`${at}.name`, `duplicate listener name ${n.name}`);
    names.add(n.name);
    const s = obj(n.spec, `${at}.spec`);
    str(s.brokerRef, `${at}.spec.brokerRef`);
    if (s.brokerRef !== broker.name)
      throw new ConfigError(`${at}.spec.brokerRef`, `must name the broker "${broker.name}"`);
    if (!Number.isInteger(s.port) || (s.port as number) < 0 || (s.port as number) > 65535)
      throw new ConfigError(`${at}.spec.port`, 'must be an integer 0–65535');
    optEnum(s.serviceType, `${at}.spec.serviceType`, ['clusterIp', 'loadBalancer', 'nodePort']);
    optBool(s.authenticationEnabled, `${at}.spec.authenticationEnabled`);
    optBool(s.authorizationEnabled, `${at}.spec.authorizationEnabled`);
    optEnum(s.protocol, `${at}.spec.protocol`, ['mqtt', 'websockets']);
    if (s.tls !== undefined) {
      const tls = obj(s.tls, `${at}.spec.tls`);
      const kinds = ['automatic', 'manual'].filter((k) => tls[k] !== undefined);
      if (tls.keyVault !== undefined)
        throw new ConfigError(`${at}.spec.tls.keyVault`, 'Key Vault TLS is not supported by iotmq');
      if (kinds.length !== 1) throw new ConfigError(`${at}.spec.tls`, 'exactly one of automatic, manual is required');
      if (tls.manual !== undefined)
        str(obj(tls.manual, `${at}.spec.tls.manual`).secretName, `${at}.spec.tls.manual.secretName`);
      else obj(tls.automatic, `${at}.spec.tls.automatic`);
    }
  });

  const refs = (list: unknown[], at: string): void =>
    list.forEach((r, j) => {
      str(r, `${at}[${j}]`);
      if (!names.has(r as string)) throw new ConfigError(`${at}[${j}]`, `no listener named ${String(r)}`);
    });

  (root.authentications === undefined ? [] : arr(root.authentications, 'authentications')).forEach((a, i) => {
    const at = `authentications[${i}]`;
    const s = obj(named(a, at).spec, `${at}.spec`);
    refs(arr(s.listenerRef, `${at}.spec.listenerRef`), `${at}.spec.listenerRef`);
    arr(s.authenticationMethods, `${at}.spec.authenticationMethods`).forEach((m, j) =>
      validateMethod(obj(m, `${at}.spec.authenticationMethods[${j}]`), `${at}.spec.authenticationMethods[${j}]`, root),
    );
  });

  (root.authorizations === undefined ? [] : arr(root.authorizations, 'authorizations')).forEach((a, i) => {
    const at = `authorizations[${i}]`;
    const s = obj(named(a, at).spec, `${at}.spec`);
    refs(arr(s.listenerRef, `${at}.spec.listenerRef`), `${at}.spec.listenerRef`);
    const policies = obj(s.authorizationPolicies, `${at}.spec.authorizationPolicies`);
    optBool(policies.enableCache, `${at}.spec.authorizationPolicies.enableCache`);
    (policies.rules === undefined ? [] : arr(policies.rules, `${at}.spec.authorizationPolicies.rules`)).forEach(
      (r, j) => {
        const rat = `${at}.spec.authorizationPolicies.rules[${j}]`;
        const rule = obj(r, rat);
        const p = obj(rule.principals, `${rat}.principals`);
        if (p.clientids !== undefined)
          arr(p.clientids, `${rat}.principals.clientids`).forEach((x, k) =>
            str(x, `${rat}.principals.clientids[${k}]`),
          );
        if (p.usernames !== undefined)
          arr(p.usernames, `${rat}.principals.usernames`).forEach((x, k) =>
            str(x, `${rat}.principals.usernames[${k}]`),
          );
        if (p.attributes !== undefined)
          arr(p.attributes, `${rat}.principals.attributes`).forEach((m, k) => {
            for (const [key, v] of Object.entries(obj(m, `${rat}.principals.attributes[${k}]`)))
              str(v, `${rat}.principals.attributes[${k}].${key}`);
          });
        arr(rule.brokerResources, `${rat}.brokerResources`).forEach((br, k) => {
          const bat = `${rat}.brokerResources[${k}]`;
          const res = obj(br, bat);
          optEnum(res.method, `${bat}.method`, ['Connect', 'Publish', 'Subscribe']);
          if (res.method === undefined) throw new ConfigError(`${bat}.method`, 'is required');
          if (res.method !== 'Connect') {
            if (res.topics === undefined)
              throw new ConfigError(`${bat}.topics`, 'is required for Publish and Subscribe');
            arr(res.topics, `${bat}.topics`).forEach((t, m) => str(t, `${bat}.topics[${m}]`));
          }
        });
      },
    );
  });

  if (root.mounts !== undefined) {
    const m = obj(root.mounts, 'mounts');
    if (m.secrets !== undefined) str(m.secrets, 'mounts.secrets');
    if (m.configMaps !== undefined) str(m.configMaps, 'mounts.configMaps');
  }
  if (root.dataDir !== undefined) str(root.dataDir, 'dataDir');
  if (root.bindAddress !== undefined) str(root.bindAddress, 'bindAddress');
  if (
    root.metricsPort !== undefined &&
    (!Number.isInteger(root.metricsPort) || (root.metricsPort as number) < 0 || (root.metricsPort as number) > 65535)
  )
    throw new ConfigError('metricsPort', 'must be an integer 0–65535');
  if (root.kubernetes !== undefined) {
    const k = obj(root.kubernetes, 'kubernetes');
    str(k.tokenReviewUrl, 'kubernetes.tokenReviewUrl');
    if (k.caFile !== undefined) str(k.caFile, 'kubernetes.caFile');
    if (k.tokenFile !== undefined) str(k.tokenFile, 'kubernetes.tokenFile');
  }
  return root as unknown as BrokerConfig;
}

function validateMethod(m: Obj, at: string, root: Obj): void {
  const kinds = ['usernamePassword', 'x509', 'sat', 'custom'].filter((k) => m[k] !== undefined);
  if (kinds.length !== 1) throw new ConfigError(at, 'exactly one of usernamePassword, x509, sat, custom is required');
  const kind = kinds[0];
  const body = obj(m[kind], `${at}.${kind}`);
  switch (kind) {
    case 'usernamePassword':
      str(body.secretName, `${at}.usernamePassword.secretName`);
      break;
    case 'x509':
      str(body.trustedClientCaCert, `${at}.x509.trustedClientCaCert`);
      if (body.attributes !== undefined)
        str(obj(body.attributes, `${at}.x509.attributes`).secretName, `${at}.x509.attributes.secretName`);
      break;
    case 'sat': {
      const aud = arr(body.audiences, `${at}.sat.audiences`);
      if (aud.length === 0) throw new ConfigError(`${at}.sat.audiences`, 'at least one audience is required');
      aud.forEach((a, i) => str(a, `${at}.sat.audiences[${i}]`));
      if (root.kubernetes === undefined)
        throw new ConfigError('kubernetes', 'is required when a sat method is configured');
      break;
    }
    case 'custom': {
      str(body.endpoint, `${at}.custom.endpoint`);
      if (!/^https?:\/\//.test(body.endpoint as string))
        throw new ConfigError(`${at}.custom.endpoint`, 'must be an http(s) URL');
      if (body.caCert !== undefined) str(body.caCert, `${at}.custom.caCert`);
      if (body.headers !== undefined)
        for (const [k, v] of Object.entries(obj(body.headers, `${at}.custom.headers`)))
          str(v, `${at}.custom.headers.${k}`);
      if (body.auth !== undefined) {
        const auth = obj(body.auth, `${at}.custom.auth`);
        if (auth.x509 !== undefined)
          str(obj(auth.x509, `${at}.custom.auth.x509`).secretName, `${at}.custom.auth.x509.secretName`);
      }
      break;
    }
  }
}

function obj(v: unknown, at: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(at, 'must be an object');
  return v as Obj;
}
function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(at, 'must be an array');
  return v;
}
function str(v: unknown, at: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(at, 'must be a non-empty string');
  return v;
}
function optBool(v: unknown, at: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw new ConfigError(at, 'must be a boolean');
}
function optEnum(v: unknown, at: string, values: string[]): void {
  if (v !== undefined && !values.includes(v as string))
    throw new ConfigError(at, `must be one of ${values.join(', ')}`);
}
function named(v: unknown, at: string): { name: string; spec: unknown } {
  const o = obj(v, at);
  return { name: str(o.name, `${at}.name`), spec: o.spec };
}

/** Path of key `key` of Secret `name` in the mounted secrets directory. */
export function secretFile(config: BrokerConfig, name: string, key: string): string {
  if (!config.mounts?.secrets) throw new ConfigError('mounts.secrets', `is required to read secret ${name}`);
  return path.join(config.mounts.secrets, name, key);
}

/** Directory of ConfigMap `name` in the mounted config maps directory. */
export function configMapDir(config: BrokerConfig, name: string): string {
  if (!config.mounts?.configMaps) throw new ConfigError('mounts.configMaps', `is required to read config map ${name}`);
  return path.join(config.mounts.configMaps, name);
}

/** The largest packet a memory profile admits (the product's later documented values). */
export function maximumPacketSizeFor(profile: MemoryProfile | undefined): number {
  const mb = 1024 * 1024;
  return { tiny: 4 * mb, low: 16 * mb, medium: 64 * mb, high: 256 * mb }[profile ?? 'medium'];
}
