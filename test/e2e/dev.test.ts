// `iotmq dev` as a user runs it: a child process, HTTPS on a loopback port, dev.json written, the SDK
// works with what it prints, Ctrl-C stops it cleanly, a restart keeps all data, and no secret
// ever appears in its output (logs at debug level included).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevConfig } from '../../src/cli/dev.js';
import { startCli, type CliProcess } from '../support/cli.js';
import { devArmClient, devCredential } from '../support/dev-sdk.js';
import { freePort } from '../support/ports.js';
import { processesUnder } from './dev-stack.js';

let dataDir: string;
/** Never the default 1883/8883: another broker (a distribution's mosquitto) may hold them. */
let mqttFlags: string[];
/** Every process started here; one a failed test left running is killed before the data dir goes. */
const started: CliProcess[] = [];
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-dev-e2e-'));
  mqttFlags = ['--mqtt-port', String(await freePort()), '--mqtts-port', String(await freePort())];
});
afterAll(async () => {
  await Promise.all(started.map((cli) => cli.stop('SIGKILL')));
  for (const pid of processesUnder(dataDir)) process.kill(pid, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

interface Running {
  cli: CliProcess;
  output: () => string;
  endpoint: string;
}

async function startDevProcess(): Promise<Running> {
  const cli = startCli(['dev', '--port', '0', '--data-dir', dataDir, ...mqttFlags], { IOTMQ_LOG_LEVEL: 'debug' });
  started.push(cli);
  // The banner comes once everything (MQTT included) is up.
  const [, endpoint] = await cli.waitFor(
    /ARM endpoint\s+(https:\/\/\S+)[\s\S]*JavaScript[\s\S]*mosquitto_pub/,
    180_000,
  );
  return { cli, output: cli.output, endpoint: endpoint! };
}

/** SIGINT (Ctrl-C): the exit code, and every child of it gone. */
async function stop(running: Running): Promise<number | null> {
  const code = await running.cli.stop('SIGINT');
  expect(processesUnder(dataDir)).toEqual([]);
  return code;
}

describe('iotmq dev', { timeout: 240_000 }, () => {
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
    // the MQTT password too: the banner says where it is (dev.json), debug logs included
    const { mqtt } = first as DevConfig & { mqtt: { password: string } };
    expect(mqtt.password).toMatch(/^\S{16,}$/);
    expect(output).not.toContain(mqtt.password);
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
