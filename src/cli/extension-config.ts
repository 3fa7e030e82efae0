// Configuration of `iotmq agent` and `iotmq operator`: flags win over environment variables (what
// the Helm chart and the Azure workload-identity webhook set), validated once here, frozen, and
// passed down; nothing below reads process.env or argv.
import { existsSync, readFileSync } from 'node:fs';
import { parseCommandLine } from './command-line.js';
import { AGENT, OPERATOR } from './commands.js';

export type CredentialKind = 'client-secret' | 'workload-identity';
export type DriverKind = 'kubernetes' | 'local';

/** Where the Kubernetes API is: a kubeconfig file, or the pod's service account when absent. */
export interface KubeAccess {
  kubeconfigPath?: string;
}

export interface AgentConfig extends KubeAccess {
  rpUrl: string;
  clusterId: string;
  namespace: string;
  tokenScope: string;
  rpCa?: string;
  credential:
    | { kind: 'client-secret'; tenantId: string; clientId: string; clientSecret: string; authorityHost?: string }
    | { kind: 'workload-identity'; tenantId: string; clientId: string; tokenFilePath: string; authorityHost?: string };
}

export interface OperatorConfig extends KubeAccess {
  namespace: string;
  driver: DriverKind;
  image: string;
  /** Where the local driver keeps workload files, logs and data. */
  dataDir: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function pick(flag: string | undefined, env: Env, ...names: string[]): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  for (const name of names) if (env[name]) return env[name];
  return undefined;
}

function need(command: string, what: string, value: string | undefined): string {
  if (!value) throw new ConfigError(`iotmq ${command}: ${what} is required`);
  return value;
}

export function parseAgentConfig(args: string[], env: Env = process.env): Readonly<AgentConfig> {
  const values = parseCommandLine(AGENT, args);
  const rpUrl = need('agent', '--rp-url (IOTMQ_RP_URL)', pick(values['rp-url'], env, 'IOTMQ_RP_URL'));
  let parsed: URL;
  try {
    parsed = new URL(rpUrl);
  } catch {
    throw new ConfigError(`iotmq agent: --rp-url is not a URL: ${rpUrl}`);
  }
  if (parsed.protocol !== 'https:' && parsed.hostname !== '127.0.0.1' && parsed.hostname !== 'localhost') {
    throw new ConfigError('iotmq agent: --rp-url must be https (plain http only on loopback)');
  }
  const tenantId = need('agent', '--tenant-id (AZURE_TENANT_ID)', pick(values['tenant-id'], env, 'AZURE_TENANT_ID'));
  const clientId = need('agent', '--client-id (AZURE_CLIENT_ID)', pick(values['client-id'], env, 'AZURE_CLIENT_ID'));
  const authorityHost = pick(values['authority-host'], env, 'AZURE_AUTHORITY_HOST');
  const tokenFile = env.AZURE_FEDERATED_TOKEN_FILE;
  const kind = pick(values.credential, env, 'IOTMQ_CREDENTIAL') ?? (tokenFile ? 'workload-identity' : 'client-secret');
  let credential: AgentConfig['credential'];
  if (kind === 'workload-identity') {
    credential = {
      kind,
      tenantId,
      clientId,
      tokenFilePath: need('agent', 'AZURE_FEDERATED_TOKEN_FILE (set by the workload identity webhook)', tokenFile),
      ...(authorityHost ? { authorityHost } : {}),
    };
  } else if (kind === 'client-secret') {
    const secretFile = values['client-secret-file'];
    const clientSecret = secretFile ? readFileSync(secretFile, 'utf8').trim() : env.AZURE_CLIENT_SECRET;
    credential = {
      kind,
      tenantId,
      clientId,
      clientSecret: need('agent', '--client-secret-file or AZURE_CLIENT_SECRET', clientSecret),
      ...(authorityHost ? { authorityHost } : {}),
    };
  } else {
    throw new ConfigError(`iotmq agent: --credential must be client-secret or workload-identity, not ${kind}`);
  }
  const caFile = pick(values['rp-ca-file'], env, 'IOTMQ_RP_CA_FILE');
  if (caFile && !existsSync(caFile)) throw new ConfigError(`iotmq agent: --rp-ca-file ${caFile} does not exist`);
  return deepFreeze({
    rpUrl,
    clusterId: need('agent', '--cluster-id (IOTMQ_CLUSTER_ID)', pick(values['cluster-id'], env, 'IOTMQ_CLUSTER_ID')),
    namespace: need(
      'agent',
      '--namespace (IOTMQ_NAMESPACE)',
      pick(values.namespace, env, 'IOTMQ_NAMESPACE', 'POD_NAMESPACE'),
    ),
    tokenScope: pick(values['token-scope'], env, 'IOTMQ_TOKEN_SCOPE') ?? 'https://management.azure.com/.default',
    ...(caFile ? { rpCa: readFileSync(caFile, 'utf8') } : {}),
    credential,
    ...kubeAccess(values.kubeconfig, env),
  });
}

export function parseOperatorConfig(args: string[], env: Env = process.env): Readonly<OperatorConfig> {
  const values = parseCommandLine(OPERATOR, args);
  const driver = pick(values.driver, env, 'IOTMQ_DRIVER') ?? 'kubernetes';
  if (driver !== 'kubernetes' && driver !== 'local')
    throw new ConfigError(`iotmq operator: --driver must be kubernetes or local, not ${driver}`);
  return deepFreeze({
    namespace: need(
      'operator',
      '--namespace (IOTMQ_NAMESPACE)',
      pick(values.namespace, env, 'IOTMQ_NAMESPACE', 'POD_NAMESPACE'),
    ),
    driver,
    image: pick(values.image, env, 'IOTMQ_IMAGE') ?? 'ghcr.io/iotmq/iotmq:0.1.0',
    dataDir: pick(values['data-dir'], env, 'IOTMQ_DATA_DIR') ?? './.iotmq/operator',
    ...kubeAccess(values.kubeconfig, env),
  });
}

function kubeAccess(flag: string | undefined, env: Env): KubeAccess {
  const kubeconfigPath = pick(flag, env, 'KUBECONFIG');
  if (kubeconfigPath && !existsSync(kubeconfigPath))
    throw new ConfigError(`kubeconfig ${kubeconfigPath} does not exist`);
  if (!kubeconfigPath && !env.KUBERNETES_SERVICE_HOST)
    throw new ConfigError('no Kubernetes API: pass --kubeconfig (KUBECONFIG) or run in a pod');
  return kubeconfigPath ? { kubeconfigPath } : {};
}
