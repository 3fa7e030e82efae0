// `iotmq dev` as a user runs it: a child process, HTTPS on a loopback port, dev.json written, the SDK
// works with what it prints, Ctrl-C stops it cleanly, a restart keeps all data, and no secret
// ever appears in its output (logs at debug level included).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevConfig } from '../../src/cli/dev.js';
import { devArmClient, devCredential } from '../support/dev-sdk.js';

const root = path.resolve(import.meta.dirname, '../..');
let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-dev-e2e-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  output: () => string;
  endpoint: string;
}

async function startDevProcess(): Promise<Running> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'dev', '--port', '0', '--data-dir', dataDir],
    {
      cwd: root,
      env: { ...process.env, IOTMQ_LOG_LEVEL: 'debug', VITEST: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = /ARM endpoint\s+(https:\/\/\S+)/.exec(text);
      if (match && text.includes('JavaScript')) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`iotmq dev exited with ${code}:\n${text}`)));
  });
  return { child, output: () => text, endpoint };
}

async function stop(running: Running): Promise<number | null> {
  const exited = once(running.child, 'exit');
  running.child.kill('SIGINT');
  const [code] = (await exited) as [number | null];
  return code;
}

describe('iotmq dev', () => {
  let first: DevConfig;

  it('starts, writes dev.json (0600) and serves the SDK with the credentials it made', async () => {
    const running = await startDevProcess();
    try {
      const file = path.join(dataDir, 'dev.json');
      first = JSON.parse(await readFile(file, 'utf8')) as DevConfig;
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(first).toMatchObject({
        armEndpoint: running.endpoint,
        authorityHost: running.endpoint,
        resourceGroup: 'iotmq-local',
        caCertFile: path.join(dataDir, 'ca.pem'),
      });
      expect(running.output()).toContain(`az cloud register -n iotmq --endpoint-resource-manager ${running.endpoint}/`);

      // The SDK with what dev.json says, as a user's own script would use it.
      const cloud = { config: first, caPem: await readFile(first.caCertFile, 'utf8') };
      const client = devArmClient(cloud);
      await client.resourceGroups.createOrUpdate('kept-across-restarts', { location: 'eastus' });
      const wrong = devCredential(cloud, { clientSecret: 'wrong-secret-value' });
      await expect(wrong.getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS7000215/);
    } finally {
      expect(await stop(running)).toBe(0);
    }
    const output = running.output();
    expect(output).toContain('iotmq dev stopped.');
    expect(output).not.toContain(first.clientSecret);
    expect(output).not.toContain(first.agent.clientSecret);
    expect(output).not.toContain('wrong-secret-value');
  });

  it('a restart keeps the identities and all data', async () => {
    const running = await startDevProcess();
    try {
      const again = JSON.parse(await readFile(path.join(dataDir, 'dev.json'), 'utf8')) as DevConfig;
      expect({ ...again, armEndpoint: '', authorityHost: '', agent: { ...again.agent, endpoint: '' } }).toEqual({
        ...first,
        armEndpoint: '',
        authorityHost: '',
        agent: { ...first.agent, endpoint: '' },
      });
      const client = devArmClient({ config: again, caPem: await readFile(again.caCertFile, 'utf8') });
      expect((await client.resourceGroups.checkExistence('kept-across-restarts')).body).toBe(true);
      expect((await client.providers.get('Microsoft.IoTOperationsMQ')).registrationState).toBe('Registered');
      const cl = await client.resources.getById(again.customLocationId, '2021-08-15');
      expect(cl.name).toBe('local-cl');
    } finally {
      expect(await stop(running)).toBe(0);
    }
  });
});
