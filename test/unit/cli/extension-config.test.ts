// Configuration of `iotmq agent` / `iotmq operator`: flags over env, validated once, frozen.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig, parseOperatorConfig } from '../../../src/cli/extension-config.js';

const dir = mkdtempSync(join(tmpdir(), 'iotmq-cli-'));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');
const env = { AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c', AZURE_CLIENT_SECRET: 's', KUBECONFIG: kubeconfig };
const agentArgs = ['--rp-url', 'https://rp.example', '--cluster-id', '/x/connectedClusters/c1', '--namespace', 'aio'];

describe('iotmq agent / operator configuration', () => {
  it('agent: flags and env merge into one frozen config; client secret by default', () => {
    const config = parseAgentConfig(agentArgs, env);
    expect(config).toEqual({
      rpUrl: 'https://rp.example',
      clusterId: '/x/connectedClusters/c1',
      namespace: 'aio',
      tokenScope: 'https://management.azure.com/.default',
      credential: { kind: 'client-secret', tenantId: 't', clientId: 'c', clientSecret: 's' },
      kubeconfigPath: kubeconfig,
    });
    expect(Object.isFrozen(config) && Object.isFrozen(config.credential)).toBe(true);
  });

  it('agent: workload identity when the webhook set AZURE_FEDERATED_TOKEN_FILE; in-cluster config without a kubeconfig', () => {
    const config = parseAgentConfig(agentArgs, {
      AZURE_TENANT_ID: 't',
      AZURE_CLIENT_ID: 'c',
      AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
    });
    expect(config.credential).toEqual({
      kind: 'workload-identity',
      tenantId: 't',
      clientId: 'c',
      tokenFilePath: '/var/run/secrets/azure/tokens/azure-identity-token',
    });
    expect(config.kubeconfigPath).toBeUndefined();
  });

  it.each([
    [[], env, /--rp-url/],
    [['--rp-url', 'http://rp.example', '--cluster-id', 'c', '--namespace', 'n'], env, /must be https/],
    [agentArgs, { ...env, AZURE_CLIENT_SECRET: undefined }, /AZURE_CLIENT_SECRET/],
    [[...agentArgs, '--credential', 'password'], env, /--credential must be/],
    [agentArgs, { ...env, KUBECONFIG: undefined }, /no Kubernetes API/],
    [[...agentArgs, '--bogus'], env, /Unknown option/],
  ] as const)('agent refuses bad configuration %#', (args, environment, message) => {
    expect(() => parseAgentConfig([...args], { ...environment })).toThrow(message);
  });

  it('operator: driver kubernetes by default, local on request, anything else refused', () => {
    expect(parseOperatorConfig(['--namespace', 'aio'], env)).toMatchObject({
      namespace: 'aio',
      driver: 'kubernetes',
      kubeconfigPath: kubeconfig,
    });
    expect(parseOperatorConfig(['--namespace', 'aio', '--driver', 'local', '--data-dir', dir], env)).toMatchObject({
      driver: 'local',
      dataDir: dir,
    });
    expect(() => parseOperatorConfig(['--namespace', 'aio', '--driver', 'docker'], env)).toThrow(/--driver must be/);
    expect(() => parseOperatorConfig([], env)).toThrow(/--namespace/);
  });
});
