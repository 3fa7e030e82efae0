// Loading the broker's configuration file. Its shape, types and JSON schema are the contract in
// src/api/broker-config.ts (built from the spec's `*Properties`, the same the operator renders
// from); here: read the file, check it against that schema, then check what a schema cannot say —
// names that must refer to each other, exactly-one-of choices, what iotmq does not support.
// A new setting goes into BrokerConfig (src/api/broker-config.ts) and the schema
// (src/api/broker-config-schema.ts); `npm run specs` then recompiles the check the broker runs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  authenticationReferences,
  brokerConfigContract,
  listenerSecret,
  configMapDir as mountedConfigMapDir,
  MountError,
  secretFile as mountedSecretFile,
  type AuthenticationMethodSpec,
  type BrokerConfig,
  type MemoryProfile,
  type Mounts,
} from '../../src/api/broker-config.js';

export type {
  AuthenticationMethodSpec,
  AuthenticationSpec,
  AuthorizationRule,
  AuthorizationSpec,
  BrokerConfig,
  BrokerResourceMethod,
  BrokerSpec,
  ListenerSpec,
  ListenerTls,
  MemoryProfile,
  Named,
} from '../../src/api/broker-config.js';

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
  const resolveMount = (m: Mounts['secrets']) =>
    typeof m === 'object' ? Object.fromEntries(Object.entries(m).map(([n, dir]) => [n, resolve(dir)!])) : resolve(m);
  return {
    ...config,
    dataDir: resolve(config.dataDir),
    mounts: config.mounts && {
      secrets: resolveMount(config.mounts.secrets),
      configMaps: resolveMount(config.mounts.configMaps),
    },
  };
}

/** The config with the spec's defaults filled in, or a ConfigError naming the first bad field. */
export function validateConfig(raw: unknown): BrokerConfig {
  const { value: config, violations } = brokerConfigContract.check(raw);
  const first = violations[0];
  if (first) throw new ConfigError(first.target || '$', first.message);
  checkReferences(config);
  return config;
}

/** What the schema cannot say: cross-references, exactly-one-of, and what iotmq does not support. */
function checkReferences(config: BrokerConfig): void {
  const broker = config.broker.name;
  const packetLimit = maximumPacketSizeFor(config.broker.spec.memoryProfile);
  if (config.maxConnectPacketBytes !== undefined && config.maxConnectPacketBytes > packetLimit)
    throw new ConfigError(
      'maxConnectPacketBytes',
      `must not exceed the packet limit of the memory profile (${packetLimit} bytes)`,
    );
  const names = new Set<string>();
  config.listeners.forEach(({ name, spec }, i) => {
    const at = `listeners[${i}]`;
    if (names.has(name)) throw new ConfigError(`${at}.name`, `duplicate listener name ${name}`);
    names.add(name);
    if (spec.brokerRef !== broker) throw new ConfigError(`${at}.spec.brokerRef`, `must name the broker "${broker}"`);
    const tlsSecret = listenerSecret(spec);
    if (tlsSecret) secretFile(config, tlsSecret, '');
    if (spec.tls !== undefined) {
      if (spec.tls.keyVault !== undefined)
        throw new ConfigError(`${at}.spec.tls.keyVault`, 'Key Vault TLS is not supported by iotmq');
      if ((spec.tls.automatic === undefined) === (spec.tls.manual === undefined))
        throw new ConfigError(`${at}.spec.tls`, 'exactly one of automatic, manual is required');
    }
  });
  const listenerRefs = (refs: string[], at: string) =>
    refs.forEach((ref, j) => {
      if (!names.has(ref)) throw new ConfigError(`${at}.spec.listenerRef[${j}]`, `no listener named ${ref}`);
    });

  (config.authentications ?? []).forEach(({ spec }, i) => {
    const at = `authentications[${i}]`;
    listenerRefs(spec.listenerRef, at);
    spec.authenticationMethods.forEach((method, j) =>
      checkMethod(config, method, `${at}.spec.authenticationMethods[${j}]`),
    );
    // every Secret and ConfigMap it reads has a directory
    const refs = authenticationReferences(spec);
    for (const name of refs.secrets) secretFile(config, name, '');
    for (const name of refs.configMaps) configMapDir(config, name);
  });

  (config.authorizations ?? []).forEach(({ spec }, i) => {
    const at = `authorizations[${i}]`;
    listenerRefs(spec.listenerRef, at);
    (spec.authorizationPolicies.rules ?? []).forEach((rule, j) =>
      rule.brokerResources.forEach((resource, k) => {
        if (resource.method !== 'Connect' && resource.topics === undefined)
          throw new ConfigError(
            `${at}.spec.authorizationPolicies.rules[${j}].brokerResources[${k}].topics`,
            'is required for Publish and Subscribe',
          );
      }),
    );
  });
}

const METHODS = ['usernamePassword', 'x509', 'sat', 'custom', 'svid'] as const;

function checkMethod(config: BrokerConfig, method: AuthenticationMethodSpec, at: string): void {
  const kinds = METHODS.filter((k) => method[k] !== undefined);
  if (kinds.length !== 1) throw new ConfigError(at, `exactly one of ${METHODS.join(', ')} is required`);
  if (method.svid) throw new ConfigError(`${at}.svid`, 'SPIFFE SVID authentication is not supported by iotmq');
  const keyVault = [
    method.usernamePassword?.keyVault && 'usernamePassword.keyVault',
    method.x509?.attributes?.keyVault && 'x509.attributes.keyVault',
    method.custom?.auth?.x509.keyVault && 'custom.auth.x509.keyVault',
  ].find(Boolean);
  if (keyVault)
    throw new ConfigError(`${at}.${keyVault}`, 'Key Vault references are not supported by iotmq; use secretName');
  if (method.usernamePassword && !method.usernamePassword.secretName)
    throw new ConfigError(`${at}.usernamePassword.secretName`, 'is required');
  if (method.x509?.attributes && !method.x509.attributes.secretName)
    throw new ConfigError(`${at}.x509.attributes.secretName`, 'is required');
  if (method.custom?.auth && !method.custom.auth.x509.secretName)
    throw new ConfigError(`${at}.custom.auth.x509.secretName`, 'is required');
  if (method.custom && !/^https?:\/\//.test(method.custom.endpoint))
    throw new ConfigError(`${at}.custom.endpoint`, 'must be an http(s) URL');
  if (method.sat && method.sat.audiences.length === 0)
    throw new ConfigError(`${at}.sat.audiences`, 'at least one audience is required');
  if (method.sat && config.kubernetes === undefined)
    throw new ConfigError('kubernetes', 'is required when a sat method is configured');
}

function mounted<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (err) {
    if (err instanceof MountError) throw new ConfigError(err.field, err.message);
    throw err;
  }
}

/** Path of key `key` of Secret `name` in the mounted secrets directory. */
export function secretFile(config: BrokerConfig, name: string, key: string): string {
  return mounted(() => mountedSecretFile(config.mounts, name, key));
}

/** Directory of ConfigMap `name` in the mounted config maps directory. */
export function configMapDir(config: BrokerConfig, name: string): string {
  return mounted(() => mountedConfigMapDir(config.mounts, name));
}

/** The largest packet a memory profile admits (the product's later documented values). */
export function maximumPacketSizeFor(profile: MemoryProfile | undefined): number {
  const mb = 1024 * 1024;
  const sizes: Record<string, number> = { tiny: 4 * mb, low: 16 * mb, medium: 64 * mb, high: 256 * mb };
  return sizes[profile ?? 'medium'] ?? sizes.medium!;
}
