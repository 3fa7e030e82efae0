// The emitted Swagger is what ARM tooling and SDK generators read: it must carry every operation of
// the real Microsoft.IoTOperationsMQ 2023-10-04-preview API, with our example for each.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closeExtensibleEnums } from '../../../src/api/closed-enums.js';
import { API_VERSION, loadOpenApi } from '../../../src/api/openapi.js';
import { SchemaValidator } from '../../../src/api/validator.js';
import { packageRoot } from '../../../src/common/paths.js';
import { PATCH_BODY_PARAMETER, PUT_BODY_PARAMETER } from '../../../scripts/specs/examples.js';

const swaggerDir = path.join(packageRoot, 'specs/openapi', API_VERSION);
const swagger = JSON.parse(readFileSync(path.join(swaggerDir, 'iotoperationsmq.json'), 'utf8')) as {
  paths: Record<string, Record<string, SwaggerOperation>>;
};
type SwaggerOperation = {
  operationId: string;
  parameters: { name?: string; in?: string; $ref?: string }[];
  responses: Record<string, { schema?: { $ref: string } }>;
  'x-ms-examples'?: Record<string, { $ref: string }>;
};

/** The real API's operations, as its Swagger lists them (62). */
const REAL_OPERATION_IDS = [
  'Operations_List',
  ...['Mq'].flatMap((t) => [`${t}_ListBySubscription`, `${t}_ListByResourceGroup`]),
  ...['Broker', 'DiagnosticService', 'MqttBridgeConnector', 'KafkaConnector', 'DataLakeConnector'].map(
    (t) => `${t}_ListByMqResource`,
  ),
  ...['BrokerListener', 'BrokerAuthentication', 'BrokerAuthorization'].map((t) => `${t}_ListByBrokerResource`),
  'MqttBridgeTopicMap_ListByMqttBridgeConnectorResource',
  'KafkaConnectorTopicMap_ListByKafkaConnectorResource',
  'DataLakeConnectorTopicMap_ListByDataLakeConnectorResource',
  ...[
    'Mq',
    'Broker',
    'BrokerListener',
    'BrokerAuthentication',
    'BrokerAuthorization',
    'DiagnosticService',
    'MqttBridgeConnector',
    'MqttBridgeTopicMap',
    'KafkaConnector',
    'KafkaConnectorTopicMap',
    'DataLakeConnector',
    'DataLakeConnectorTopicMap',
  ].flatMap((t) => [`${t}_Get`, `${t}_CreateOrUpdate`, `${t}_Update`, `${t}_Delete`]),
].sort();

const operations = Object.values(swagger.paths).flatMap((item) => Object.values(item));

describe('emitted Swagger', () => {
  it('has exactly the 62 operationIds of the real API', () => {
    expect(REAL_OPERATION_IDS).toHaveLength(62);
    expect(operations.map((o) => o.operationId).sort()).toEqual(REAL_OPERATION_IDS);
  });

  it('links one of our examples to every operation', () => {
    for (const operation of operations) {
      expect(Object.keys(operation['x-ms-examples'] ?? {}), operation.operationId).toHaveLength(1);
    }
  });
});

describe('examples', () => {
  // As the service validates: extensible enums closed, so an example cannot use a value the RP refuses.
  const validator = new SchemaValidator(closeExtensibleEnums(loadOpenApi()));
  const byId = new Map(operations.map((o) => [o.operationId, o]));
  const examplesDir = path.join(swaggerDir, 'examples');

  for (const operation of operations) {
    it(`${operation.operationId} validates against the spec`, () => {
      const ref = Object.values(operation['x-ms-examples'] ?? {})[0]!.$ref;
      const example = JSON.parse(readFileSync(path.join(swaggerDir, ref), 'utf8')) as {
        operationId: string;
        parameters: Record<string, unknown>;
        responses: Record<string, { body?: unknown }>;
      };
      expect(example.operationId).toBe(operation.operationId);
      expect(byId.get(example.operationId)).toBeDefined();

      // Every parameter named in the example is a parameter of the operation.
      const names = operation.parameters.map(
        (p) =>
          p.name ??
          p
            .$ref!.split('/')
            .at(-1)!
            .replace(/Parameter$/, ''),
      );
      const known = new Set(
        names.map(
          (n) =>
            ({ ApiVersion: 'api-version', SubscriptionId: 'subscriptionId', ResourceGroupName: 'resourceGroupName' })[
              n
            ] ?? n,
        ),
      );
      for (const name of Object.keys(example.parameters))
        expect(known, `${operation.operationId} parameter ${name}`).toContain(name);

      // Bodies validate against the schemas the operation declares.
      const body = operation.parameters.find((p) => p.in === 'body');
      if (body) {
        expect([PUT_BODY_PARAMETER, PATCH_BODY_PARAMETER]).toContain(body.name);
        const schema = (body as { schema?: { $ref: string } }).schema!.$ref.split('/').at(-1)!;
        expect(validator.validate(schema, example.parameters[body.name!])).toEqual([]);
      }
      for (const [status, response] of Object.entries(example.responses)) {
        expect(Object.keys(operation.responses), `${operation.operationId} response ${status}`).toContain(status);
        const ref = operation.responses[status]!.schema?.$ref;
        if (ref && response.body !== undefined) {
          const schema = ref.split('/').at(-1)!;
          if (ref.startsWith('#/')) expect(validator.validate(schema, response.body)).toEqual([]);
        }
      }
      expect(examplesDir).toBeTruthy();
    });
  }
});
