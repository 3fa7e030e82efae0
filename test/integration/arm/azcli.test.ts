// The real az CLI (from PyPI, test/peers/azcli.sh) against a live `iotmq dev`: cloud register/set,
// login with a service principal, groups, generic resources of the MQ types, az rest, and a
// template deployment of bicep/main.json. TLS trust through REQUESTS_CA_BUNDLE (the dev CA only),
// an isolated AZURE_CONFIG_DIR; verification is never turned off.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import { MQ_API, startArm, type ArmHarness } from './harness.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
let az: string;
let arm: ArmHarness;
let configDir: string;

beforeAll(async () => {
  az = (
    await run('bash', [path.join(root, 'test/peers/azcli.sh')], { maxBuffer: 1 << 24, timeout: 900_000 })
  ).stdout.trim();
  arm = await startArm({ agent: true });
  configDir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-azcli-'));
});
afterAll(async () => {
  await arm?.close();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

/** Runs az asynchronously (the servers live in this process) and parses its JSON output. */
async function cli(...args: string[]): Promise<any> {
  try {
    const { stdout } = await run(az, [...args, '--output', 'json'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AZURE_CONFIG_DIR: configDir,
        REQUESTS_CA_BUNDLE: arm.dev.config.caCertFile,
        AZURE_CORE_INSTANCE_DISCOVERY: 'false',
        AZURE_CORE_COLLECT_TELEMETRY: 'false',
        AZURE_CORE_NO_COLOR: 'true',
        AZURE_CORE_SURVEY_MESSAGE: 'false',
      },
      maxBuffer: 1 << 24,
      timeout: 240_000,
    });
    return stdout.trim() ? JSON.parse(stdout) : undefined;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    const secret = arm.dev.config.clientSecret;
    // The original error names the command line, secret included: it is not attached.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`az ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`.split(secret).join('[secret]'));
  }
}

const mqId = (rg: string, ...rest: string[]) =>
  `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.IoTOperationsMQ/${['mq', ...rest].join('/')}`;

describe('az CLI against iotmq dev', () => {
  it('az cloud register / set (endpoint discovery from /metadata/endpoints)', async () => {
    await cli('cloud', 'register', '-n', 'iotmq', '--endpoint-resource-manager', `${arm.url}/`);
    await cli('cloud', 'set', '-n', 'iotmq');
    const cloud = await cli('cloud', 'show', '-n', 'iotmq');
    expect(cloud.endpoints.activeDirectory.replace(/\/$/, '')).toBe(arm.url);
  });

  it('az login --service-principal lists the subscription', async () => {
    const { clientId, clientSecret, tenantId, subscriptionId } = arm.dev.config;
    // `--password=…`: a generated secret may start with '-', which argparse would take for an option.
    const accounts = await cli(
      'login',
      '--service-principal',
      '-u',
      clientId,
      `--password=${clientSecret}`,
      '--tenant',
      tenantId,
    );
    expect(accounts).toEqual([expect.objectContaining({ id: subscriptionId, tenantId, state: 'Enabled' })]);
  });

  it('az group create / show', async () => {
    const group = await cli('group', 'create', '-n', 'cli-rg', '-l', 'eastus');
    expect(group).toMatchObject({ name: 'cli-rg', location: 'eastus', properties: { provisioningState: 'Succeeded' } });
  });

  it('az resource create / show / list for the MQ types, with the LRO completed', async () => {
    const body = {
      location: 'eastus',
      extendedLocation: { name: arm.dev.config.customLocationId, type: 'CustomLocation' },
      properties: {},
    };
    const created = await cli(
      'resource',
      'create',
      '--id',
      mqId('cli-rg', 'mq1'),
      '--api-version',
      MQ_API,
      '--is-full-object',
      '--properties',
      JSON.stringify(body),
    );
    expect(created).toMatchObject({ name: 'mq1', properties: { provisioningState: 'Succeeded' } });
    const diag = { ...body, properties: { ...SAMPLES.DiagnosticService!.properties, logLevel: 'info' } };
    await cli(
      'resource',
      'create',
      '--id',
      mqId('cli-rg', 'mq1', 'diagnosticService', 'diag'),
      '--api-version',
      MQ_API,
      '--is-full-object',
      '--properties',
      JSON.stringify(diag),
    );
    const shown = await cli(
      'resource',
      'show',
      '--id',
      mqId('cli-rg', 'mq1', 'diagnosticService', 'diag'),
      '--api-version',
      MQ_API,
    );
    expect(shown.properties).toMatchObject({ logLevel: 'info', provisioningState: 'Succeeded' });
    expect(
      (await arm.dev.rpStore.resources.get(mqId('cli-rg', 'mq1', 'diagnosticService', 'diag')))?.body,
    ).toMatchObject({ properties: { logLevel: 'info' } });
    const listed = await cli('resource', 'list', '-g', 'cli-rg');
    expect(listed.map((r: { type: string }) => r.type).sort()).toEqual([
      'Microsoft.IoTOperationsMQ/mq',
      'Microsoft.IoTOperationsMQ/mq/diagnosticService',
    ]);
  });

  it('az rest with the {subscriptionId} placeholder', async () => {
    const list = await cli(
      'rest',
      '--method',
      'get',
      '--url',
      `/subscriptions/{subscriptionId}/resourceGroups/cli-rg/providers/Microsoft.IoTOperationsMQ/mq?api-version=${MQ_API}`,
    );
    expect(list.value.map((r: { name: string }) => r.name)).toEqual(['mq1']);
  });

  it('az deployment group create --template-file bicep/main.json', async () => {
    const result = await cli(
      'deployment',
      'group',
      'create',
      '-g',
      'cli-rg',
      '-n',
      'edge',
      '--template-file',
      path.join(root, 'bicep/main.json'),
      '--parameters',
      'customLocationName=local-cl',
      'customLocationResourceGroup=iotmq-local',
      'mqName=mq-bicep',
    );
    expect(result.properties.provisioningState).toBe('Succeeded');
    expect(result.properties.outputs.listenerPort.value).toBe(8883);
    expect(
      (await arm.dev.rpStore.resources.get(mqId('cli-rg', 'mq-bicep', 'broker', 'broker', 'listener', 'listener')))
        ?.body,
    ).toMatchObject({ properties: { provisioningState: 'Succeeded', port: 8883 } });
    expect(
      (
        await arm.dev.rpStore.resources.get(
          mqId('cli-rg', 'mq-bicep', 'dataLakeConnector', 'datalake', 'topicMap', 'orders'),
        )
      )?.body,
    ).toMatchObject({ properties: { provisioningState: 'Succeeded' } });
    // Each Bicep module ran as a deployment of its own, which the CLI lists and shows.
    const listed = await cli('deployment', 'group', 'list', '-g', 'cli-rg');
    expect(listed.map((d: { name: string }) => d.name).sort()).toEqual([
      'edge',
      'edge-bridge',
      'edge-broker',
      'edge-datalake',
      'edge-diagnostics',
      'edge-kafka',
      'edge-mq',
    ]);
    const broker = await cli('deployment', 'group', 'show', '-g', 'cli-rg', '-n', 'edge-broker');
    expect(broker.properties).toMatchObject({
      provisioningState: 'Succeeded',
      outputs: { listenerPort: { value: 8883 } },
    });
  });

  it('az deployment group delete (async: 202 + Location until gone)', async () => {
    await cli('deployment', 'group', 'delete', '-g', 'cli-rg', '-n', 'edge-kafka');
    const listed = await cli('deployment', 'group', 'list', '-g', 'cli-rg');
    expect(listed.map((d: { name: string }) => d.name)).not.toContain('edge-kafka');
    expect(
      (await arm.dev.rpStore.resources.get(mqId('cli-rg', 'mq-bicep', 'kafkaConnector', 'eventhubs')))?.body,
    ).toMatchObject({ properties: { provisioningState: 'Succeeded' } });
  });

  it('az resource delete and az group delete (cascade)', async () => {
    await cli(
      'resource',
      'delete',
      '--id',
      mqId('cli-rg', 'mq1', 'diagnosticService', 'diag'),
      '--api-version',
      MQ_API,
    );
    expect(await arm.dev.rpStore.resources.get(mqId('cli-rg', 'mq1', 'diagnosticService', 'diag'))).toBeUndefined();
    await cli('group', 'delete', '-n', 'cli-rg', '--yes');
    expect(await cli('group', 'exists', '-n', 'cli-rg')).toBe(false);
    expect(await arm.dev.rpStore.resources.get(mqId('cli-rg', 'mq-bicep'))).toBeUndefined();
  });
});
