// Template deployments through the front door over its REST contract (@azure/arm-resources 7 no longer
// carries the deployments client, so the test polls Azure-AsyncOperation itself, as the CLI does):
// the engine creates each resource through the RP and waits for its async operation.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { converge, REJECTED } from './fake-agent.js';
import { DEPLOY_API, deploy as deployTo } from './deploy-client.js';
import { MQ_API, startArm, type ArmHarness } from './harness.js';

let arm: ArmHarness;
beforeAll(async () => {
  // Converges everything in flight but fails the creates of resources named `failing*`.
  arm = await startArm({
    agent: (resource, state) =>
      state !== 'Deleting' && String(resource.name).startsWith('failing')
        ? state === 'Accepted'
          ? REJECTED
          : undefined
        : converge(resource, state),
  });
  await arm.client.resourceGroups.createOrUpdate('deploy', { location: 'eastus' });
});
afterAll(async () => {
  await arm?.close();
});

const template = (extra: Record<string, unknown> = {}) => ({
  $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  parameters: {
    mqName: { type: 'string', defaultValue: 'mq-tpl' },
    customLocationId: { type: 'string' },
    mapCount: { type: 'int', defaultValue: 2, minValue: 0, maxValue: 5 },
    withDiagnostics: { type: 'bool', defaultValue: false },
    profile: { type: 'string', defaultValue: 'low', allowedValues: ['tiny', 'low', 'medium', 'high'] },
  },
  variables: {
    extendedLocation: { name: "[parameters('customLocationId')]", type: 'CustomLocation' },
    prefix: "[toLower(concat(parameters('mqName'), '-'))]",
  },
  resources: [
    {
      type: 'Microsoft.IoTOperationsMQ/mq',
      apiVersion: MQ_API,
      name: "[parameters('mqName')]",
      location: '[resourceGroup().location]',
      extendedLocation: "[variables('extendedLocation')]",
      properties: {},
    },
    {
      type: 'Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector',
      apiVersion: MQ_API,
      name: "[format('{0}/{1}', parameters('mqName'), 'bridge')]",
      location: '[resourceGroup().location]',
      extendedLocation: "[variables('extendedLocation')]",
      properties: {
        image: {
          repository: 'mcr.microsoft.com/azureiotoperations/mqttbridge',
          tag: '0.1.0-preview',
          pullPolicy: 'IfNotPresent',
        },
        protocol: 'v5',
        bridgeInstances: 1,
        clientIdPrefix: "[variables('prefix')]",
        logLevel: 'info',
        remoteBrokerConnection: {
          endpoint: 'eventgrid.example:8883',
          protocol: 'mqtt',
          tls: { tlsEnabled: true },
          authentication: { systemAssignedManagedIdentity: { audience: 'https://eventgrid.azure.net' } },
        },
        localBrokerConnection: {
          endpoint: 'aio-mq-dmqtt-frontend:8883',
          tls: { tlsEnabled: false },
          authentication: { kubernetes: {} },
        },
      },
      dependsOn: ["[resourceId('Microsoft.IoTOperationsMQ/mq', parameters('mqName'))]"],
    },
    {
      type: 'Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector/topicMap',
      apiVersion: MQ_API,
      name: "[format('{0}/bridge/map-{1}', parameters('mqName'), copyIndex(1))]",
      location: '[resourceGroup().location]',
      extendedLocation: "[variables('extendedLocation')]",
      copy: { name: 'maps', count: "[parameters('mapCount')]" },
      properties: {
        mqttBridgeConnectorRef: 'bridge',
        routes: [
          {
            name: "[format('route-{0}', copyIndex())]",
            direction: 'local-to-remote',
            source: "[format('telemetry/{0}/#', copyIndex())]",
            qos: 1,
          },
        ],
      },
      dependsOn: ["[resourceId('Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector', parameters('mqName'), 'bridge')]"],
    },
    {
      condition: "[parameters('withDiagnostics')]",
      type: 'Microsoft.IoTOperationsMQ/mq/diagnosticService',
      apiVersion: MQ_API,
      name: "[format('{0}/diag', parameters('mqName'))]",
      location: '[resourceGroup().location]',
      extendedLocation: "[variables('extendedLocation')]",
      properties: { logLevel: 'info' },
      dependsOn: ["[parameters('mqName')]"],
    },
  ],
  outputs: {
    mqId: { type: 'string', value: "[resourceId('Microsoft.IoTOperationsMQ/mq', parameters('mqName'))]" },
    state: {
      type: 'string',
      value:
        "[reference(resourceId('Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector', parameters('mqName'), 'bridge'), '2023-10-04-preview').provisioningState]",
    },
    mapNames: {
      type: 'array',
      copy: { count: "[parameters('mapCount')]", input: "[format('map-{0}', copyIndex(1))]" },
    },
    unique: { type: 'string', value: "[uniqueString(resourceGroup().id, parameters('mqName'))]" },
  },
  ...extra,
});

const rgPath = () => `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/deploy`;
/** PUT a deployment in the test's group, poll it until terminal, GET it [RES-8]. */
const deploy = (name: string, properties: Record<string, unknown>) => deployTo(arm, 'deploy', name, properties);

describe('template deployments', () => {
  it('deploys mq, a connector and a copy loop of topic maps in dependency order; outputs evaluated', async () => {
    const result = await deploy('edge-1', {
      mode: 'Incremental',
      template: template(),
      parameters: { customLocationId: { value: arm.dev.config.customLocationId } },
    });
    expect(result.properties?.provisioningState).toBe('Succeeded');
    expect(result.properties?.outputs).toEqual({
      mqId: { type: 'String', value: `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-tpl` },
      state: { type: 'String', value: 'Succeeded' },
      mapNames: { type: 'Array', value: ['map-1', 'map-2'] },
      unique: { type: 'String', value: expect.stringMatching(/^[a-z2-7]{13}$/) },
    });
    expect(result.properties?.outputResources?.map((r: { id: string }) => r.id.split('/').slice(-1)[0])).toEqual([
      'mq-tpl',
      'bridge',
      'map-1',
      'map-2',
    ]);
    const map = await arm.dev.rpStore.resources.get(
      `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-tpl/mqttBridgeConnector/bridge/topicMap/map-2`,
    );
    expect(map?.body).toMatchObject({
      properties: { provisioningState: 'Succeeded', routes: [{ name: 'route-1', source: 'telemetry/1/#' }] },
    });
    const bridge = await arm.dev.rpStore.resources.get(
      `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-tpl/mqttBridgeConnector/bridge`,
    );
    expect(bridge?.body).toMatchObject({ properties: { clientIdPrefix: 'mq-tpl-' } });
    // condition false: no diagnostics
    expect(
      await arm.dev.rpStore.resources.get(
        `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-tpl/diagnosticService/diag`,
      ),
    ).toBeUndefined();

    const operations = (
      await arm.call('GET', `${rgPath()}/providers/Microsoft.Resources/deployments/edge-1/operations?${DEPLOY_API}`)
    ).body.value;
    expect(operations).toHaveLength(4);
    expect(
      operations.every((o: any) => o.properties.provisioningState === 'Succeeded' && o.properties.targetResource.id),
    ).toBe(true);
    const list = (await arm.call('GET', `${rgPath()}/providers/Microsoft.Resources/deployments/?${DEPLOY_API}`)).body
      .value;
    expect(list.map((d: { name: string }) => d.name)).toContain('edge-1');
    expect(
      (await arm.call('HEAD', `${rgPath()}/providers/Microsoft.Resources/deployments/edge-1?${DEPLOY_API}`)).status,
    ).toBe(204);
  });

  it('accepts a template with comments and trailing commas (the raw text the CLI splices)', async () => {
    const text = `{
      // a comment
      "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "contentVersion": "1.0.0.0", /* block */
      "resources": [],
      "outputs": { "greeting": { "type": "string", "value": "[format('hello {0}', 'edge')]" }, },
    }`;
    // Exactly how the az CLI splices it: an unquoted `template` key before the raw file text.
    const put = await arm.call(
      'PUT',
      `${rgPath()}/providers/Microsoft.Resources/deployments/jsonc?api-version=2022-09-01`,
      `{"properties": {"mode": "Incremental", "parameters": {}, template:${text}}}`,
    );
    expect(put.status).toBe(201);
    expect(put.headers['azure-asyncoperation']).toMatch(
      /\/deployments\/jsonc\/operationStatuses\/\w+\?api-version=2022-09-01$/,
    );
    expect(put.body.properties.correlationId).toBe(put.headers['x-ms-correlation-request-id']);
    let status = 'Running';
    while (status === 'Running')
      status = (
        await arm.call(
          'GET',
          new URL(put.headers['azure-asyncoperation'] as string).pathname + '?api-version=2022-09-01',
        )
      ).body.status;
    expect(status).toBe('Succeeded');
    expect(
      (await arm.call('GET', `${rgPath()}/providers/Microsoft.Resources/deployments/jsonc?api-version=2022-09-01`)).body
        .properties.outputs.greeting.value,
    ).toBe('hello edge');
  });

  it('validate: 200 for a good template, 400 InvalidTemplate(Deployment) for a bad one', async () => {
    const good = await arm.call(
      'POST',
      `${rgPath()}/providers/Microsoft.Resources/deployments/v1/validate?${DEPLOY_API}`,
      {
        properties: {
          mode: 'Incremental',
          template: template(),
          parameters: {
            customLocationId: { value: arm.dev.config.customLocationId },
            withDiagnostics: { value: true },
          },
        },
      },
    );
    expect(good.status).toBe(200);
    expect(good.body.properties.validatedResources).toHaveLength(5);
    const bad = await arm.call(
      'POST',
      `${rgPath()}/providers/Microsoft.Resources/deployments/v2/validate?api-version=2022-09-01`,
      {
        properties: {
          mode: 'Incremental',
          template: template(),
          parameters: { customLocationId: { value: arm.dev.config.customLocationId }, profile: { value: 'huge' } },
        },
      },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('InvalidTemplateDeployment');
    expect(bad.body.error.details[0].message).toMatch(/huge/);
    const missing = await arm.call(
      'PUT',
      `${rgPath()}/providers/Microsoft.Resources/deployments/v3?api-version=2022-09-01`,
      { properties: { mode: 'Incremental', template: template() } },
    );
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('InvalidTemplate');
    expect(missing.body.error.message).toMatch(/customLocationId/);
    // Like validate's details, the PUT's error says where [TPL-9]: the body is one line here.
    expect(missing.body.error.additionalInfo).toEqual([
      {
        type: 'TemplateViolation',
        info: {
          lineNumber: 1,
          linePosition: expect.any(Number),
          path: 'properties.template.parameters.customLocationId',
        },
      },
    ]);
    const column = missing.body.error.additionalInfo[0].info.linePosition;
    expect(JSON.stringify({ properties: { mode: 'Incremental', template: template() } }).slice(column - 1)).toMatch(
      /^\{"type":"string"\}/,
    );
  });

  it('a template error at PUT time carries TemplateViolation with the line and column in the text the CLI sent', async () => {
    const text = `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  // the second resource refers to a parameter that does not exist
  "resources": [
    { "type": "Microsoft.IoTOperationsMQ/mq", "apiVersion": "${MQ_API}", "name": "fine", "location": "eastus", "properties": {} },
    {
      "type": "Microsoft.IoTOperationsMQ/mq/diagnosticService",
      "apiVersion": "${MQ_API}",
      "name": "[format('fine/{0}', parameters('nope'))]",
      "properties": {}
    }
  ]
}`;
    const put = await arm.call(
      'PUT',
      `${rgPath()}/providers/Microsoft.Resources/deployments/violation?${DEPLOY_API}`,
      `{"properties": {"mode": "Incremental", "parameters": {}, template:${text}}}`,
    );
    expect(put.status).toBe(400);
    expect(put.body.error).toMatchObject({ code: 'InvalidTemplate', message: expect.stringContaining("'nope'") });
    // Line 7 column 5 of the template text: the body's first line holds the prefix and the template's '{'.
    expect(put.body.error.additionalInfo).toEqual([
      { type: 'TemplateViolation', info: { lineNumber: 7, linePosition: 5, path: 'properties.template.resources[1]' } },
    ]);
    expect(
      (await arm.call('GET', `${rgPath()}/providers/Microsoft.Resources/deployments/violation?${DEPLOY_API}`)).status,
    ).toBe(404);
    // validate points at the same place.
    const validate = await arm.call(
      'POST',
      `${rgPath()}/providers/Microsoft.Resources/deployments/violation/validate?${DEPLOY_API}`,
      `{"properties": {"mode": "Incremental", "parameters": {}, template:${text}}}`,
    );
    expect(validate.body.error.details[0].additionalInfo).toEqual(put.body.error.additionalInfo);
  });

  it("a failing resource fails the deployment with DeploymentFailed and the RP's error inside; dependents are not created", async () => {
    const deployment = await deploy('failing', {
      mode: 'Incremental',
      template: template(),
      parameters: { mqName: { value: 'failing-mq' }, customLocationId: { value: arm.dev.config.customLocationId } },
    });
    expect(deployment.properties?.provisioningState).toBe('Failed');
    expect(deployment.properties?.error).toMatchObject({
      code: 'DeploymentFailed',
      details: [expect.objectContaining({ code: 'BrokerRejected', message: 'memory profile too small' })],
    });
    expect(
      await arm.dev.rpStore.resources.get(
        `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/failing-mq/mqttBridgeConnector/bridge`,
      ),
    ).toBeUndefined();
  });

  it('runs Bicep modules: nested deployments (inner scope) with outputs read by the outer template through reference()', async () => {
    const mqModule = JSON.parse(
      await readFile(path.resolve(import.meta.dirname, '../../../bicep/modules/mq.json'), 'utf8'),
    );
    // What `bicep build` emits for `module mq 'modules/mq.bicep'` and a second module given `mq.outputs.name`.
    const nested = (name: string, parameters: Record<string, unknown>, inner: unknown, dependsOn: string[] = []) => ({
      type: 'Microsoft.Resources/deployments',
      apiVersion: '2022-09-01',
      name,
      properties: { expressionEvaluationOptions: { scope: 'inner' }, mode: 'Incremental', parameters, template: inner },
      dependsOn,
    });
    const diagModule = {
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      contentVersion: '1.0.0.0',
      parameters: { mqName: { type: 'string' }, customLocationId: { type: 'string' } },
      resources: [
        {
          type: 'Microsoft.IoTOperationsMQ/mq/diagnosticService',
          apiVersion: MQ_API,
          name: "[format('{0}/{1}', parameters('mqName'), 'diag')]",
          location: '[resourceGroup().location]',
          extendedLocation: { name: "[parameters('customLocationId')]", type: 'CustomLocation' },
          properties: {
            image: {
              repository: 'mcr.microsoft.com/azureiotoperations/diagnostics-service',
              tag: '0.1.0-preview',
              pullPolicy: 'IfNotPresent',
            },
            logLevel: 'debug',
            logFormat: 'text',
            dataExportFrequencySeconds: 10,
            maxDataStorageSize: 16,
            metricsPort: 9600,
            staleDataTimeoutSeconds: 600,
          },
        },
      ],
      outputs: {
        id: {
          type: 'string',
          value: "[resourceId('Microsoft.IoTOperationsMQ/mq/diagnosticService', parameters('mqName'), 'diag')]",
        },
      },
    };
    const outer = {
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      contentVersion: '1.0.0.0',
      parameters: { customLocationId: { type: 'string' } },
      resources: [
        nested(
          'mq',
          { name: { value: 'mq-mod' }, customLocationId: { value: "[parameters('customLocationId')]" } },
          mqModule,
        ),
        nested(
          'diag',
          {
            mqName: {
              value:
                "[reference(resourceId('Microsoft.Resources/deployments', 'mq'), '2022-09-01').outputs.name.value]",
            },
            customLocationId: { value: "[parameters('customLocationId')]" },
          },
          diagModule,
          ["[resourceId('Microsoft.Resources/deployments', 'mq')]"],
        ),
      ],
      outputs: {
        mqId: {
          type: 'string',
          value: "[reference(resourceId('Microsoft.Resources/deployments', 'mq'), '2022-09-01').outputs.id.value]",
        },
        diagId: {
          type: 'string',
          value: "[reference(resourceId('Microsoft.Resources/deployments', 'diag'), '2022-09-01').outputs.id.value]",
        },
      },
    };
    const result = await deploy('modules', {
      mode: 'Incremental',
      template: outer,
      parameters: { customLocationId: { value: arm.dev.config.customLocationId } },
    });
    expect(result.properties?.provisioningState, JSON.stringify(result.properties?.error)).toBe('Succeeded');
    const mqId = `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-mod`;
    expect(result.properties?.outputs).toEqual({
      mqId: { type: 'String', value: mqId },
      diagId: { type: 'String', value: `${mqId}/diagnosticService/diag` },
    });
    expect((await arm.dev.rpStore.resources.get(mqId))?.body).toMatchObject({
      properties: { provisioningState: 'Succeeded' },
    });
    expect((await arm.dev.rpStore.resources.get(`${mqId}/diagnosticService/diag`))?.body).toMatchObject({
      properties: { provisioningState: 'Succeeded', logLevel: 'debug' },
    });
    // Each module is a deployment of its own, GET-able with its outputs, as in ARM.
    const inner = await arm.call('GET', `${rgPath()}/providers/Microsoft.Resources/deployments/diag?${DEPLOY_API}`);
    expect(inner.body.properties).toMatchObject({
      provisioningState: 'Succeeded',
      outputs: { id: { type: 'String', value: `${mqId}/diagnosticService/diag` } },
    });
  });

  it("a nested deployment without scope 'inner' is refused at validate time (InvalidTemplate)", async () => {
    const outer = {
      $schema: 'x',
      contentVersion: '1.0.0.0',
      resources: [
        {
          type: 'Microsoft.Resources/deployments',
          apiVersion: '2022-09-01',
          name: 'outer-scope',
          properties: { mode: 'Incremental', template: { resources: [] } },
        },
      ],
    };
    const response = await arm.call(
      'POST',
      `${rgPath()}/providers/Microsoft.Resources/deployments/outer/validate?${DEPLOY_API}`,
      { properties: { mode: 'Incremental', template: outer } },
    );
    expect(response.status).toBe(400);
    expect(response.body.error.details[0]).toMatchObject({
      code: 'InvalidTemplate',
      message: expect.stringContaining("scope 'inner'"),
    });
  });

  it('deploys bicep/main.json: every module a nested deployment of its own, every MQ type stored by the RP', async () => {
    const text = await readFile(path.resolve(import.meta.dirname, '../../../bicep/main.json'), 'utf8');
    const result = await deploy('main', {
      mode: 'Incremental',
      template: JSON.parse(text),
      parameters: { customLocationName: { value: 'local-cl' }, customLocationResourceGroup: { value: 'iotmq-local' } },
    });
    expect(result.properties?.provisioningState, JSON.stringify(result.properties?.error)).toBe('Succeeded');
    const mq = `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-instance`;
    expect(result.properties.outputs).toEqual({
      mqId: { type: 'String', value: mq },
      brokerId: { type: 'String', value: `${mq}/broker/broker` },
      listenerPort: { type: 'Int', value: 8883 },
      brokerState: { type: 'String', value: 'Succeeded' },
      topicMapIds: {
        type: 'Array',
        value: [
          `${mq}/dataLakeConnector/datalake/topicMap/orders`,
          `${mq}/dataLakeConnector/datalake/topicMap/telemetry`,
        ],
      },
    });
    const stored = async (suffix: string) => (await arm.dev.rpStore.resources.get(`${mq}${suffix}`))?.body as any;
    const customLocation = { name: arm.dev.config.customLocationId, type: 'CustomLocation' };
    const local = {
      endpoint: 'aio-mq-dmqtt-frontend:8883',
      tls: { tlsEnabled: true },
      authentication: { kubernetes: {} },
    };
    const expected: Record<string, Record<string, unknown>> = {
      '': {},
      '/broker/broker': {
        mode: 'distributed',
        memoryProfile: 'medium',
        cardinality: { frontend: { replicas: 2 } },
        brokerImage: { tag: '0.1.0-preview' },
      },
      '/broker/broker/listener/listener': {
        brokerRef: 'broker',
        port: 8883,
        tls: { automatic: { issuerRef: { name: 'mq-dmqtt-frontend' } } },
      },
      '/broker/broker/authentication/authn': {
        listenerRef: ['listener'],
        authenticationMethods: [
          { sat: { audiences: ['aio-mq'] } },
          { usernamePassword: { secretName: 'plant-passwords' } },
        ],
      },
      '/broker/broker/authorization/authz': {
        listenerRef: ['listener'],
        authorizationPolicies: {
          enableCache: true,
          rules: [{ brokerResources: [{ method: 'Connect' }, { method: 'Publish' }, { method: 'Subscribe' }] }],
        },
      },
      '/diagnosticService/diagnostics': {
        logLevel: 'info',
        metricsPort: 9600,
        image: { repository: 'mcr.microsoft.com/azureiotoperations/diagnostics-service' },
      },
      '/mqttBridgeConnector/eventgrid-bridge': {
        clientIdPrefix: 'mq-instance-',
        remoteBrokerConnection: { endpoint: 'contoso-plants.eastus-1.ts.eventgrid.azure.net:8883' },
        localBrokerConnection: local,
      },
      '/mqttBridgeConnector/eventgrid-bridge/topicMap/routes': {
        mqttBridgeConnectorRef: 'eventgrid-bridge',
        routes: [{ name: 'telemetry-up' }, { name: 'commands-down', target: 'commands' }],
      },
      '/kafkaConnector/eventhubs': {
        kafkaConnection: { endpoint: 'contoso-plants.servicebus.windows.net:9093' },
        localBrokerConnection: local,
      },
      '/kafkaConnector/eventhubs/topicMap/telemetry': {
        kafkaConnectorRef: 'eventhubs',
        routes: [{ mqttToKafka: { kafkaTopic: 'plant-telemetry' } }],
      },
      '/dataLakeConnector/datalake': {
        target: { datalakeStorage: { endpoint: 'https://contosoplantlake.blob.core.windows.net' } },
        localBrokerConnection: local,
      },
      '/dataLakeConnector/datalake/topicMap/orders': {
        dataLakeConnectorRef: 'datalake',
        mapping: { clientId: 'mq-instance-orders', mqttSourceTopic: 'orders/#', table: { tableName: 'orders' } },
      },
      '/dataLakeConnector/datalake/topicMap/telemetry': {
        mapping: { mqttSourceTopic: 'telemetry/#', table: { tableName: 'telemetry' } },
      },
    };
    for (const [suffix, properties] of Object.entries(expected)) {
      expect(await stored(suffix), suffix || 'mq').toMatchObject({
        location: 'eastus',
        extendedLocation: customLocation,
        properties: { ...properties, provisioningState: 'Succeeded' },
      });
    }
    // Each module ran as a deployment of its own, GET-able with its outputs and operations, as in ARM.
    for (const module of ['mq', 'broker', 'diagnostics', 'bridge', 'kafka', 'datalake']) {
      const inner = await arm.call(
        'GET',
        `${rgPath()}/providers/Microsoft.Resources/deployments/main-${module}?${DEPLOY_API}`,
      );
      expect(inner.status, module).toBe(200);
      expect(inner.body.properties, module).toMatchObject({
        provisioningState: 'Succeeded',
        outputs: expect.any(Object),
      });
    }
    const brokerOps = (
      await arm.call(
        'GET',
        `${rgPath()}/providers/Microsoft.Resources/deployments/main-broker/operations?${DEPLOY_API}`,
      )
    ).body.value;
    expect(brokerOps.map((o: any) => o.properties.targetResource.resourceType).sort()).toEqual([
      'Microsoft.IoTOperationsMQ/mq/broker',
      'Microsoft.IoTOperationsMQ/mq/broker/authentication',
      'Microsoft.IoTOperationsMQ/mq/broker/authorization',
      'Microsoft.IoTOperationsMQ/mq/broker/listener',
    ]);
  });

  it('bicep/main.json with enableKafka false skips the kafka module', async () => {
    const text = await readFile(path.resolve(import.meta.dirname, '../../../bicep/main.json'), 'utf8');
    const parameters = {
      mqName: { value: 'mq-nokafka' },
      enableKafka: { value: false },
      tables: { value: [] },
      customLocationName: { value: 'local-cl' },
      customLocationResourceGroup: { value: 'iotmq-local' },
    };
    const result = await deploy('nokafka', { mode: 'Incremental', template: JSON.parse(text), parameters });
    expect(result.properties?.provisioningState, JSON.stringify(result.properties?.error)).toBe('Succeeded');
    expect(result.properties.outputs.topicMapIds.value).toEqual([]);
    expect(
      (await arm.call('GET', `${rgPath()}/providers/Microsoft.Resources/deployments/nokafka-kafka?${DEPLOY_API}`))
        .status,
    ).toBe(404);
    expect(
      await arm.dev.rpStore.resources.get(
        `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-nokafka/kafkaConnector/eventhubs`,
      ),
    ).toBeUndefined();
    expect(
      (
        await arm.dev.rpStore.resources.get(
          `${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-nokafka/dataLakeConnector/datalake`,
        )
      )?.body,
    ).toMatchObject({ properties: { provisioningState: 'Succeeded' } });
  });
});

describe('deployment DELETE [RES-6]', () => {
  const deploymentPath = (name: string) => `${rgPath()}/providers/Microsoft.Resources/deployments/${name}`;
  const empty = { mode: 'Incremental', template: { $schema: 'x', contentVersion: '1.0.0.0', resources: [] } };

  it('answers 202 + Location; the Location answers 202 while deleting, then 204; the resources stay', async () => {
    await deploy('to-delete', {
      mode: 'Incremental',
      template: template(),
      parameters: {
        mqName: { value: 'mq-kept' },
        mapCount: { value: 0 },
        customLocationId: { value: arm.dev.config.customLocationId },
      },
    });
    const response = await arm.call('DELETE', `${deploymentPath('to-delete')}?${DEPLOY_API}`);
    expect(response.status).toBe(202);
    expect(response.headers['retry-after']).toBe('1');
    const location = new URL(response.headers.location as string);
    expect(location.pathname).toMatch(/\/deployments\/to-delete\/operationResults\/[\w-]+$/);
    const answers: number[] = [];
    for (let status = 202; status === 202;) {
      const poll = await arm.call('GET', `${location.pathname}${location.search}`);
      status = poll.status;
      answers.push(status);
      if (status === 202) expect(poll.headers['retry-after']).toBe('1');
    }
    expect(answers.at(-1)).toBe(204);
    expect(answers.slice(0, -1).every((s) => s === 202)).toBe(true);
    expect((await arm.call('GET', `${deploymentPath('to-delete')}?${DEPLOY_API}`)).status).toBe(404);
    // Deleting a deployment removes its history, never what it made.
    expect(
      (await arm.dev.rpStore.resources.get(`${rgPath()}/providers/Microsoft.IoTOperationsMQ/mq/mq-kept`))?.body,
    ).toMatchObject({ properties: { provisioningState: 'Succeeded' } });
    // Gone: DELETE again is 204 with nothing to do.
    expect((await arm.call('DELETE', `${deploymentPath('to-delete')}?${DEPLOY_API}`)).status).toBe(204);
  });

  it('a deletion this process does not own (as after a restart) answers 202 from the record, 204 once it is gone; PUT meanwhile is 409', async () => {
    await deploy('interrupted', empty);
    const record = arm.dev.armStore.deployments.get(`${deploymentPath('interrupted')}`)!;
    record.body.properties = { ...(record.body.properties as object), provisioningState: 'Deleting' };
    arm.dev.armStore.deployments.put(record);
    const url = `${deploymentPath('interrupted')}/operationResults/from-before-restart?${DEPLOY_API}`;
    const running = await arm.call('GET', url);
    expect(running.status).toBe(202);
    expect(running.headers.location).toContain('/operationResults/from-before-restart');
    const put = await arm.call('PUT', `${deploymentPath('interrupted')}?${DEPLOY_API}`, { properties: empty });
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe('DeploymentBeingDeleted');
    arm.dev.armStore.deployments.delete(record.id);
    expect((await arm.call('GET', url)).status).toBe(204);
  });
});
