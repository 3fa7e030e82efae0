// `iotmq operator` as a process (the command the Helm chart runs) against the real API server:
// configured by flags, it reconciles CRs into Deployments/Services and stops cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { crType } from '../../../extension/agent/index.js';
import { useKube } from '../../peers/kube/fixture.js';
import { awaitObjects } from './await-objects.js';
import { createNamespace, installCrds, kubeClient } from './kube-setup.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const NS = 'cli';
const image = { repository: 'ghcr.io/iotmq/iotmq', tag: 'cli' };

describe('iotmq operator (child process, real kube-apiserver)', () => {
  const kube = useKube();
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('reconciles with the kubernetes driver and exits 0 on SIGTERM', async () => {
    const client = kubeClient(kube());
    await installCrds(client);
    await createNamespace(client, NS);
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/cli/main.ts'),
        'operator',
        '--kubeconfig',
        kube().kubeconfigPath,
        '--namespace',
        NS,
        '--driver',
        'kubernetes',
        '--image',
        'ghcr.io/iotmq/iotmq:cli',
      ],
      {
        cwd: root,
        env: { ...process.env, IOTMQ_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    await client.apply(
      {
        apiVersion: crType('Broker').apiVersion,
        kind: 'Broker',
        metadata: { name: 'b', namespace: NS },
        spec: { mode: 'auto', authImage: image, brokerImage: image, healthManagerImage: image },
      },
      { fieldManager: 'kubectl' },
    );
    await client.apply(
      {
        apiVersion: crType('BrokerListener').apiVersion,
        kind: 'BrokerListener',
        metadata: { name: 'l', namespace: NS },
        spec: { brokerRef: 'b', port: 1883 },
      },
      { fieldManager: 'kubectl' },
    );
    const [deployment] = await awaitObjects(
      client,
      { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
      NS,
      (d) => d.length === 1,
      `the operator's Deployment (output so far: ${out})`,
      45_000,
    );
    expect((deployment!.spec as any).template.spec.containers[0].image).toBe('ghcr.io/iotmq/iotmq:cli');
    expect(out).toContain(`watching namespace ${NS} (driver kubernetes)`);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, out).toBe(0);
  });
});
