// Hostile templates against the deployment engine over the front door's HTTPS interface (issue 11
// items 2, 10, 11): ARM's own template limits answer 400 InvalidTemplate before anything runs; a
// template that only fails while it runs fails that deployment alone (Failed, an ARM error), while the
// front door keeps serving everyone else; a deployment a crash left Running ends Failed after a
// restart; inputs nested beyond the parser's depth are 400s, never 500s; and secure parameters are
// never printed in an error, an operation or an output.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevConfig } from '../../../src/cli/dev.js';
import { devCredential, ARM_SCOPE } from '../../support/dev-sdk.js';
import { eventually } from '../../support/eventually.js';
import {
  awaitDeployment,
  DEPLOY_API,
  deploy,
  deploymentPath,
  resourceGroupStatus,
  startDeployment,
} from './deploy-client.js';
import { httpsRequest, MQ_API, startArm, type ArmHarness } from './harness.js';

const GROUP = 'limits';
let arm: ArmHarness;
beforeAll(async () => {
  arm = await startArm({ agent: true });
  await arm.client.resourceGroups.createOrUpdate(GROUP, { location: 'eastus' });
});
afterAll(async () => {
  await arm?.close();
});

const template = (extra: Record<string, unknown>) => ({
  $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  resources: [],
  ...extra,
});
const named = (count: number, value: (i: number) => unknown) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`n${i}`, value(i)]));
const put = (name: string, properties: Record<string, unknown>) =>
  arm.call('PUT', `${deploymentPath(arm, GROUP, name)}?${DEPLOY_API}`, { properties });
const validate = (name: string, properties: Record<string, unknown>) =>
  arm.call('POST', `${deploymentPath(arm, GROUP, name)}/validate?${DEPLOY_API}`, { properties });
const mq = (extra: Record<string, unknown> = {}) => ({
  type: 'Microsoft.IoTOperationsMQ/mq',
  apiVersion: MQ_API,
  name: 'mq-limits',
  location: 'eastus',
  extendedLocation: { name: arm.dev.config.customLocationId, type: 'CustomLocation' },
  properties: {},
  ...extra,
});

describe("ARM's template limits [issue 11.2]", () => {
  // Each row is one of ARM's documented limits exceeded by one; `says` is what the message must name.
  const cases: { name: string; template: () => Record<string, unknown>; says: RegExp }[] = [
    {
      name: '257 parameters (ARM: 256)',
      template: () => template({ parameters: named(257, () => ({ type: 'int', defaultValue: 1 })) }),
      says: /parameters.*256/i,
    },
    {
      name: '513 variables (ARM: 512)',
      template: () => template({ variables: named(513, (i) => i) }),
      says: /variables.*512/i,
    },
    {
      name: '65 outputs (ARM: 64)',
      template: () => template({ outputs: named(65, (i) => ({ type: 'int', value: i })) }),
      says: /outputs.*64/i,
    },
    {
      name: '801 resources through a copy loop (ARM: 800 with copies)',
      template: () =>
        template({
          resources: [
            mq({ name: "[concat('mq-', copyIndex())]", copy: { name: 'l', count: 400 } }),
            mq({ name: "[concat('other-', copyIndex())]", copy: { name: 'm', count: 401 } }),
          ],
        }),
      says: /resources.*800/i,
    },
    {
      name: 'a resource copy count of 801 (ARM: 800)',
      template: () =>
        template({ resources: [mq({ name: "[concat('mq-', copyIndex())]", copy: { name: 'l', count: 801 } })] }),
      says: /copy count.*800/i,
    },
    {
      name: 'a variable copy count of 801',
      template: () => template({ variables: { copy: [{ name: 'many', count: 801, input: "[copyIndex('many')]" }] } }),
      says: /copy count.*800/i,
    },
    {
      name: 'a property copy count of 100000000',
      template: () =>
        template({
          resources: [mq({ properties: { copy: [{ name: 'list', count: 100000000, input: "[copyIndex('list')]" }] } })],
        }),
      says: /copy count.*800/i,
    },
    {
      name: 'an expression of 24,577 characters (ARM: 24,576)',
      template: () => template({ variables: { long: `[concat('${'x'.repeat(24_577 - 12)}')]` } }),
      says: /24,?576/,
    },
    {
      name: 'range() with a count of 10,001 in a variable (ARM: 10,000)',
      template: () =>
        template({
          variables: { many: '[range(0, 10001)]' },
          resources: [mq({ name: "[string(length(variables('many')))]" })],
        }),
      says: /range.*10,?000/i,
    },
  ];
  for (const row of cases) {
    it(`${row.name}: 400 InvalidTemplate at PUT and at validate, nothing deployed`, async () => {
      const name = `limit-${cases.indexOf(row)}`;
      const response = await put(name, { mode: 'Incremental', template: row.template() });
      expect(response.status, response.text.slice(0, 500)).toBe(400);
      expect(response.body.error.code).toBe('InvalidTemplate');
      expect(response.body.error.message).toMatch(row.says);
      const checked = await validate(name, { mode: 'Incremental', template: row.template() });
      expect(checked.status).toBe(400);
      expect(checked.body.error.details[0].code).toBe('InvalidTemplate');
      expect((await arm.call('GET', `${deploymentPath(arm, GROUP, name)}?${DEPLOY_API}`)).status).toBe(404);
    });
  }

  it("an output of [range(0, 100000000)] fails that deployment (ARM's range limit), and the front door lives on", async () => {
    for (const count of [10_001, 100_000_000]) {
      const name = `range-${count}`;
      const result = await deploy(arm, GROUP, name, {
        mode: 'Incremental',
        template: template({ outputs: { huge: { type: 'array', value: `[range(0, ${count})]` } } }),
      });
      expect(result.properties.provisioningState).toBe('Failed');
      expect(result.properties.error.code).toBe('DeploymentOutputEvaluationFailed');
      expect(result.properties.error.message).toMatch(/range.*10,?000/i);
      expect(result.properties.outputs).toBeUndefined();
    }
    expect(await resourceGroupStatus(arm, GROUP)).toBe(200);
  });

  it('values that outgrow the 4 MB template ARM allows after expansion fail their deployment with an ARM error', async () => {
    // 400 copies of a 1.6 MB string: each value is legal, the expanded outputs are not.
    const big = `[string(concat(${Array.from({ length: 20 }, (_, i) => `range(${i * 10000}, 10000)`).join(', ')}))]`;
    const result = await deploy(arm, GROUP, 'too-big', {
      mode: 'Incremental',
      template: template({ outputs: { big: { type: 'array', copy: { count: 400, input: big } } } }),
    });
    expect(result.properties.provisioningState).toBe('Failed');
    expect(JSON.stringify(result.properties.error)).toMatch(/4 ?MB|4,194,304/);
  });
});

// Work legal at every step and far beyond one deployment's evaluation budget on any machine: 400,000
// numbers (a 2.7 MB string) stringified 8 times per copy, 800 copies. A quiet machine got through a
// single stringification per copy within the budget; the budget ends the work, so more costs no time.
const HEAVY_VARIABLE = `[concat(${Array.from({ length: 40 }, (_, i) => `range(${i * 10000}, 10000)`).join(', ')})]`;
const eightTimes = (expression: string): string => [1, 2, 3].reduce((e) => `add(${e}, ${e})`, expression);
const HEAVY_INPUT = `[${eightTimes("length(string(variables('big')))")}]`;

describe('a heavy template does not stop the front door [issue 11.2]', () => {
  it('other callers are answered while it evaluates; it ends Failed on its own evaluation budget', async () => {
    const { statusUrl } = await startDeployment(arm, GROUP, 'heavy', {
      mode: 'Incremental',
      template: template({
        variables: { big: HEAVY_VARIABLE },
        outputs: { spin: { type: 'array', copy: { count: 800, input: HEAVY_INPUT } } },
      }),
    });
    // Ordering, not timing: another caller's GET is answered while the heavy deployment still runs.
    const other = await arm.call(
      'GET',
      `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/${GROUP}?api-version=2022-09-01`,
    );
    expect(other.status).toBe(200);
    const meanwhile = await arm.call('GET', `${deploymentPath(arm, GROUP, 'heavy')}?${DEPLOY_API}`);
    expect(['Accepted', 'Running']).toContain(meanwhile.body.properties.provisioningState);
    const result = await awaitDeployment(arm, GROUP, 'heavy', statusUrl);
    expect(result.properties.provisioningState).toBe('Failed');
    expect(result.properties.error.code).toBe('DeploymentOutputEvaluationFailed');
    expect(result.properties.error.message).toMatch(/evaluat.*seconds/i);
  }, 120_000);
  it('a PUT of the same deployment while its template is still being prepared is 409 DeploymentActive', async () => {
    // Variables are resolved while the template is prepared: this one outlasts the evaluation budget.
    const slow = put('busy', {
      mode: 'Incremental',
      template: template({
        variables: {
          big: HEAVY_VARIABLE,
          copy: [{ name: 'spin', count: 800, input: HEAVY_INPUT }],
        },
      }),
    });
    // Any answer from the front door after the slow PUT was sent: its handler is past the claim by then.
    expect(await resourceGroupStatus(arm, GROUP)).toBe(200);
    const second = await put('busy', { mode: 'Incremental', template: template({}) });
    expect(second.status, second.text).toBe(409);
    expect(second.body.error.code).toBe('DeploymentActive');
    const first = await slow;
    expect(first.status).toBe(400);
    expect(first.body.error.message).toMatch(/evaluat.*seconds/i);
  }, 120_000);
});

describe('inputs nested beyond the parsers [issue 11.10]', () => {
  it('a deployment template nested 100,000 deep is 400, at PUT and at validate', async () => {
    const depth = 100_000;
    const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const body = `{"properties":{"mode":"Incremental","template":{"resources":[],"variables":{"v":${deep}}}}}`;
    for (const suffix of ['', '/validate']) {
      const response = await arm.call(
        suffix ? 'POST' : 'PUT',
        `${deploymentPath(arm, GROUP, 'deep')}${suffix}?${DEPLOY_API}`,
        body,
      );
      expect(response.status, response.text.slice(0, 300)).toBe(400);
      expect(response.body.error.code).toMatch(/^Invalid(RequestContent|Template|TemplateDeployment)$/);
      expect(JSON.stringify(response.body.error)).toMatch(/nest|deep|depth/i);
    }
  });

  it('an expression nested 20,000 deep (and one just under the length limit) is 400 InvalidTemplate', async () => {
    const deepest = `[${'not('.repeat(20_000)}true()${')'.repeat(20_000)}]`;
    // Within ARM's 24,576 characters but nested far beyond the evaluator's depth.
    const longest = `[${'not('.repeat(4_000)}true()${')'.repeat(4_000)}]`;
    for (const [i, expression] of [deepest, longest].entries()) {
      const response = await put(`deep-expr-${i}`, {
        mode: 'Incremental',
        template: template({ variables: { v: expression } }),
      });
      expect(response.status, response.text.slice(0, 300)).toBe(400);
      expect(response.body.error.code).toBe('InvalidTemplate');
    }
  });
});

describe('secure parameters are never printed [issue 11.11]', () => {
  const secret = 'Hidden-Region-7f3a';
  const secureTemplate = () =>
    template({
      parameters: {
        where: { type: 'secureString' },
        config: { type: 'secureObject', defaultValue: { token: 'tok-9d2e41' } },
      },
      resources: [mq({ name: 'mq-secret', location: "[toLower(parameters('where'))]" })],
      outputs: {
        echoed: { type: 'string', value: "[concat('at ', parameters('where'), ' with ', parameters('config').token)]" },
      },
    });

  it('the RP refusing a secure location: the deployment error, its operations and GET show no trace of it', async () => {
    const result = await deploy(arm, GROUP, 'secure', {
      mode: 'Incremental',
      template: secureTemplate(),
      parameters: { where: { value: secret } },
    });
    expect(result.properties.provisioningState).toBe('Failed');
    const operations = await arm.call('GET', `${deploymentPath(arm, GROUP, 'secure')}/operations?${DEPLOY_API}`);
    const everything = JSON.stringify([result, operations.body]);
    expect(everything).toMatch(/LocationNotAvailableForResourceType/);
    expect(everything.toLowerCase()).not.toContain(secret.toLowerCase());
  });

  it('a refused secure value at PUT and at validate is not echoed; outputs built from secrets are redacted', async () => {
    const allowed = template({
      parameters: { where: { type: 'secureString', allowedValues: ['eastus', 'westus'] } },
    });
    for (const response of [
      await put('secure-allowed', { mode: 'Incremental', template: allowed, parameters: { where: { value: secret } } }),
      await validate('secure-allowed', {
        mode: 'Incremental',
        template: allowed,
        parameters: { where: { value: secret } },
      }),
    ]) {
      expect(response.status).toBe(400);
      expect(response.text).toContain('where');
      expect(response.text.toLowerCase()).not.toContain(secret.toLowerCase());
    }
    const outputs = template({
      parameters: {
        where: { type: 'secureString' },
        config: { type: 'secureObject', defaultValue: { token: 'tok-9d2e41' } },
      },
      outputs: {
        echoed: { type: 'string', value: "[concat('at ', parameters('where'), ' with ', parameters('config').token)]" },
        plain: { type: 'string', value: 'visible' },
        // A number derived from a secret (its length) is no secret: the same digits elsewhere stay readable.
        size: { type: 'int', value: "[add(length(parameters('where')), 1000)]" },
        release: { type: 'string', value: 'release-1018' },
      },
    });
    const result = await deploy(arm, GROUP, 'secure-outputs', {
      mode: 'Incremental',
      template: outputs,
      parameters: { where: { value: secret } },
    });
    expect(result.properties.provisioningState).toBe('Succeeded');
    expect(result.properties.outputs.plain.value).toBe('visible');
    expect(result.properties.outputs.size.value).toBe(1018);
    expect(result.properties.outputs.release.value).toBe('release-1018');
    expect(JSON.stringify(result)).not.toContain(secret);
    expect(JSON.stringify(result)).not.toContain('tok-9d2e41');
  });
});

describe('a restart after a crash [issue 11.2]', () => {
  it('a deployment the killed process left Running is Failed after the restart, with a message saying so', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-crash-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'dev-process.ts'), dataDir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let restarted: ArmHarness | undefined;
    try {
      let output = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      await eventually('the dev process to be ready', () => /ready /.test(output), 60_000);
      const config = JSON.parse(await readFile(path.join(dataDir, 'dev.json'), 'utf8')) as DevConfig;
      const caPem = await readFile(config.caCertFile, 'utf8');
      const token = (await devCredential({ config, caPem }).getToken(ARM_SCOPE))!.token;
      const agent = new https.Agent({ ca: caPem });
      const call = (method: string, url: string, body?: unknown) =>
        httpsRequest(agent, `${config.armEndpoint}${url}`, method, body, { authorization: `Bearer ${token}` });
      const id = `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}/providers/Microsoft.Resources/deployments/in-flight`;
      // No agent runs: the mq's operation stays Accepted, so the deployment is Running when the process dies.
      const started = await call('PUT', `${id}?${DEPLOY_API}`, {
        properties: {
          mode: 'Incremental',
          template: template({
            resources: [{ ...mq(), extendedLocation: { name: config.customLocationId, type: 'CustomLocation' } }],
          }),
        },
      });
      expect(started.status, started.text).toBe(201);
      await eventually('the deployment to be Running', async () => {
        const got = await call('GET', `${id}?${DEPLOY_API}`);
        return got.body.properties.provisioningState === 'Running' || undefined;
      });
      child.kill('SIGKILL');
      await once(child, 'exit');
      agent.destroy();

      restarted = await startArm({ dataDir, keep: true });
      const after = await eventually('the interrupted deployment to be terminal', async () => {
        const got = await restarted!.call('GET', `${id}?${DEPLOY_API}`);
        return ['Failed', 'Succeeded', 'Canceled'].includes(got.body.properties.provisioningState)
          ? got.body
          : undefined;
      });
      expect(after.properties.provisioningState).toBe('Failed');
      expect(after.properties.error.code).toBe('DeploymentInterrupted');
      expect(after.properties.error.message).toMatch(/restart/i);
      const status = await restarted.call('GET', `${id}/operationStatuses/any?${DEPLOY_API}`);
      expect(status.body.status).toBe('Failed');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await restarted?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
