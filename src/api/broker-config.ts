// The broker's configuration file (`iotmq broker --config FILE`): the contract between the operator,
// which renders it from the Broker, BrokerListener, BrokerAuthentication and BrokerAuthorization
// custom resources, and the broker, which loads it. JSON:
//
// {
//   "broker":          { "name": "broker",   "spec": <BrokerProperties> },
//   "listeners":      [{ "name": "listener", "spec": <BrokerListenerProperties> + "protocol" }],
//   "authentications": [{ "name": "authn",   "spec": <BrokerAuthenticationProperties> }],
//   "authorizations":  [{ "name": "authz",   "spec": <BrokerAuthorizationProperties> }],
//   "mounts": { "secrets": { "pw": "/etc/iotmq/secrets/pw" }, "configMaps": { "client-ca": "/etc/iotmq/configmaps/client-ca" } },
//   "dataDir": "/var/lib/iotmq/broker", "bindAddress": "0.0.0.0",
//   "metricsPort": 9600,                                              // optional: Prometheus /metrics
//   "maxKeepAlive": 60,                                               // optional: Server Keep Alive cap (s)
//   "maxConnectPacketBytes": 65536,                                   // optional: packets before authentication
//   "maxSubscriberQueueBytes": 4194304,                               // optional: unsent output per subscriber
//   "maxSessionQueueMessages": 100000,                                // optional: QoS 1/2 queued per session
//   "slowSubscriberGraceMs": 5000,                                    // optional: backpressure before "stuck"
//   "kubernetes": { "tokenReviewUrl": "https://kubernetes.default.svc", "caFile": "…", "tokenFile": "…" }
// }
//
// Each `spec` is a custom resource's spec, which is the ARM `properties` of the generated API types
// (src/api/types.generated.ts) with the same field names; its schema (broker-config-schema.ts) is built
// from the same spec, made strict (an unknown field is an error), and fills in the spec's defaults. A
// field renamed in specs/ therefore changes what the operator and the broker compile and check against.
//
// Secrets and ConfigMaps are read as Kubernetes mounts them, a directory of keys each. The operator
// resolves every Secret and ConfigMap the specs reference to the directory it mounts it at
// (`mounts.secrets[N]`, `mounts.configMaps[N]`; key K of Secret N is <mounts.secrets[N]>/K), and the
// broker refuses a config that references one without a directory. A hand-written config may give a
// root instead (`"secrets": "/etc/secrets"`: Secret N is <root>/N). `secretFile`/`configMapDir`
// resolve a reference for the broker, `mountPath` places the volume for the operator.
//
// iotmq extensions: the v1beta1 BrokerListener has no protocol field (the product speaks MQTT over
// TCP/TLS only), so a listener may carry `"protocol": "websockets"` to serve MQTT over WebSocket
// (subprotocol `mqtt`); the default is "mqtt". `kubernetes.tokenReviewUrl` is the API server's base
// URL (or the full `/apis/authentication.k8s.io/v1/tokenreviews` URL), needed by the `sat` method.
import { createRequire } from 'node:module';
import path from 'node:path';
import { BROKER_CONFIG_CHECK_SOURCE } from './broker-config.validate.generated.js';
import { contractOf, type CompiledSchema } from './contract.js';
import type { components } from './types.generated.js';

type Schemas = components['schemas'];

/** A custom resource's spec: the ARM `properties` without what only the RP writes. */
export type CrSpec<T> = Omit<T, 'provisioningState'>;

/** The broker reads its own settings (memory profile, mode); the images are the operator's concern. */
export type BrokerSpec = Partial<CrSpec<Schemas['BrokerProperties']>>;
export type ListenerProtocol = 'mqtt' | 'websockets';
export type ListenerSpec = CrSpec<Schemas['BrokerListenerProperties']> & {
  /** iotmq extension: MQTT over TCP/TLS (default) or over WebSocket. */
  protocol?: ListenerProtocol;
};
export type ListenerTls = Schemas['TlsCertMethod'];
export type AuthenticationSpec = CrSpec<Schemas['BrokerAuthenticationProperties']>;
export type AuthenticationMethodSpec = Schemas['BrokerAuthenticatorMethods'];
export type AuthorizationSpec = CrSpec<Schemas['BrokerAuthorizationProperties']>;
export type AuthorizationRule = Schemas['AuthorizationBasicRule'];
export type BrokerResourceMethod = Schemas['ResourceInfoDefinitionMethods'];
export type MemoryProfile = Schemas['BrokerMemoryProfile'];

export interface Named<T> {
  name: string;
  spec: T;
}

/** Per kind: the directory of each referenced Secret/ConfigMap by name, or one root holding them all. */
export interface Mounts {
  secrets?: string | Record<string, string>;
  configMaps?: string | Record<string, string>;
}

export interface BrokerConfig {
  broker: Named<BrokerSpec>;
  listeners: Array<Named<ListenerSpec>>;
  authentications?: Array<Named<AuthenticationSpec>>;
  authorizations?: Array<Named<AuthorizationSpec>>;
  mounts?: Mounts;
  dataDir?: string;
  bindAddress?: string;
  metricsPort?: number;
  /**
   * iotmq setting: the longest keep alive a client may have, in seconds. An MQTT 5 client that asks
   * for more, or for none, gets this one in CONNACK (Server Keep Alive); 0 imposes none. Default 60.
   */
  maxKeepAlive?: number;
  /**
   * iotmq setting: the largest packet, in bytes, read from a client before it is authenticated
   * (CONNECT, AUTH); one announcing more is refused from its header. At most the memory profile's
   * packet limit. Default 65536 (64 KiB).
   */
  maxConnectPacketBytes?: number;
  /**
   * iotmq setting: per subscriber, the bytes written to it and not yet taken by its socket beyond
   * which a stuck subscriber loses QoS 0 messages and its own packets are not read until it drains.
   * Publishers wait for it from a quarter of this (at most 1 MiB). Default 4194304 (4 MiB).
   */
  maxSubscriberQueueBytes?: number;
  /**
   * iotmq setting: QoS 1/2 messages queued per session (offline, or with its Receive Maximum in
   * flight) beyond which new ones for it are dropped. Default 100000.
   */
  maxSessionQueueMessages?: number;
  /**
   * iotmq setting: milliseconds a congested subscriber may hold its publishers back before it
   * counts as stuck (publishers go on without it); 0 gives up on it at once. Default 5000.
   */
  slowSubscriberGraceMs?: number;
  kubernetes?: { tokenReviewUrl: string; caFile?: string; tokenFile?: string };
}

/** Schema check of a broker config (src/api/broker-config-schema.ts, compiled ahead of time), defaults filled in. */
export const brokerConfigContract = contractOf<BrokerConfig>('broker config', loadBrokerConfigCheck, {
  fillsDefaults: true,
});

/** Where key `key` of Secret `name` is mounted. */
export function secretFile(mounts: Mounts | undefined, name: string, key: string): string {
  return path.join(mountedDir(mounts, 'secrets', name), key);
}

/** Where ConfigMap `name` is mounted (a directory of its keys). */
export function configMapDir(mounts: Mounts | undefined, name: string): string {
  return mountedDir(mounts, 'configMaps', name);
}

/** Mount path of a Secret's or ConfigMap's volume for the operator: the directory the broker reads. */
export function mountPath(root: string, name: string): string {
  return path.posix.join(root, name);
}

export class MountError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'MountError';
  }
}

function mountedDir(mounts: Mounts | undefined, kind: keyof Mounts, name: string): string {
  const what = kind === 'secrets' ? 'secret' : 'config map';
  const mount = mounts?.[kind];
  if (typeof mount === 'string') return path.join(mount, name);
  const dir = mount?.[name];
  if (!dir) throw new MountError(`mounts.${kind}`, `has no directory for ${what} ${name}, which the config references`);
  return dir;
}

/** The Secrets and ConfigMaps an authentication's methods read (its spec's defaults applied). */
export function authenticationReferences(spec: Pick<AuthenticationSpec, 'authenticationMethods'>): {
  secrets: string[];
  configMaps: string[];
} {
  const secrets: string[] = [];
  const configMaps: string[] = [];
  for (const method of spec.authenticationMethods ?? []) {
    if (method.usernamePassword?.secretName) secrets.push(method.usernamePassword.secretName);
    if (method.x509?.attributes?.secretName) secrets.push(method.x509.attributes.secretName);
    if (method.x509?.trustedClientCaCertConfigMap) configMaps.push(method.x509.trustedClientCaCertConfigMap);
    if (method.custom?.auth?.x509?.secretName) secrets.push(method.custom.auth.x509.secretName);
    if (method.custom?.caCertConfigMap) configMaps.push(method.custom.caCertConfigMap);
  }
  return { secrets, configMaps };
}

/** The Secret a listener's manual TLS certificate is read from. */
export function listenerSecret(spec: Pick<ListenerSpec, 'tls'>): string | undefined {
  return spec.tls?.manual?.secretName;
}

/**
 * The ahead-of-time compiled check (CommonJS source from `npm run specs`, see
 * scripts/specs/broker-config-validator.ts), made a function the way ajv itself does at run time;
 * `require` resolves ajv's small runtime helpers.
 */
function loadBrokerConfigCheck(): CompiledSchema {
  const module = { exports: {} as unknown };
  // (generated by our own build, never from input)
  new Function('module', 'exports', 'require', BROKER_CONFIG_CHECK_SOURCE)(
    module,
    module.exports,
    createRequire(import.meta.url),
  );
  return module.exports as CompiledSchema;
}
