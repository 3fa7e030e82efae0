/**
 * Realistic properties for each resource type, used for the example payloads (x-ms-examples):
 * the defaults `az iot ops init` creates, a TLS listener on 8883 and a plain one's neighbour on
 * 1883, a bridge to an Event Grid namespace, a Kafka connector to an Event Hubs namespace and a
 * Data Lake connector writing Delta tables to ADLS Gen2.
 */
export interface Sample {
  /** Resource name (last name segment). */
  name: string;
  /** How titles refer to it, with its article. */
  label: string;
  plural: string;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
}

const image = (repository: string) => ({
  repository: `mcr.microsoft.com/azureiotoperations/${repository}`,
  tag: '0.1.0-preview',
  pullPolicy: 'IfNotPresent',
});

const localBrokerConnection = {
  endpoint: 'aio-mq-dmqtt-frontend:8883',
  tls: { tlsEnabled: true, trustedCaCertificateConfigMap: 'aio-ca-trust-bundle-test-only' },
  authentication: { kubernetes: { secretPath: '/var/run/secrets/tokens', serviceAccountTokenName: 'mq-sat' } },
};

const tags = { environment: 'production', site: 'contoso-plant-1' };

export const SAMPLES: Record<string, Sample> = {
  Mq: { name: 'mq-instance', label: 'an MQ instance', plural: 'MQ instances', tags, properties: {} },
  Broker: {
    name: 'broker',
    label: 'a broker',
    plural: 'brokers',
    tags,
    properties: {
      authImage: image('dmqtt-authentication'),
      brokerImage: image('dmqtt-pod'),
      healthManagerImage: image('dmqtt-operator'),
      mode: 'distributed',
      memoryProfile: 'medium',
      encryptInternalTraffic: true,
      cardinality: {
        frontend: { replicas: 2, workers: 2 },
        backendChain: { partitions: 2, redundancyFactor: 2, workers: 2 },
      },
      diagnostics: {
        enableMetrics: true,
        enableSelfCheck: true,
        logLevel: 'info',
        logFormat: 'text',
        diagnosticServiceEndpoint: 'aio-mq-diagnostics-service:9700',
      },
    },
  },
  BrokerListener: {
    name: 'listener',
    label: 'a TLS listener on port 8883',
    plural: 'listeners',
    tags,
    properties: {
      brokerRef: 'broker',
      port: 8883,
      serviceName: 'aio-mq-dmqtt-frontend',
      serviceType: 'clusterIp',
      authenticationEnabled: true,
      authorizationEnabled: true,
      tls: {
        automatic: {
          issuerRef: { name: 'mq-dmqtt-frontend', kind: 'Issuer', group: 'cert-manager.io' },
          duration: '720h',
          renewBefore: '240h',
          san: { dns: ['aio-mq-dmqtt-frontend.azure-iot-operations'], ip: ['10.0.0.15'] },
        },
      },
    },
  },
  BrokerAuthentication: {
    name: 'authn',
    label: 'an authentication with service-account tokens and passwords',
    plural: 'authentications',
    tags,
    properties: {
      listenerRef: ['listener'],
      // every method the broker runs, so that the contract test walks each through render and the broker
      authenticationMethods: [
        { sat: { audiences: ['aio-mq'] } },
        { usernamePassword: { secretName: 'plant-passwords' } },
        {
          x509: {
            trustedClientCaCertConfigMap: 'plant-device-ca',
            attributes: { secretName: 'plant-x509-attributes' },
          },
        },
        {
          custom: {
            endpoint: 'https://auth.contoso-plant.local:8443',
            caCertConfigMap: 'plant-auth-server-ca',
            auth: { x509: { secretName: 'plant-auth-client-cert' } },
            headers: { 'x-plant': 'contoso-plant-1' },
          },
        },
      ],
    },
  },
  BrokerAuthorization: {
    name: 'authz',
    label: 'an authorization for line sensors',
    plural: 'authorizations',
    tags,
    properties: {
      listenerRef: ['listener'],
      authorizationPolicies: {
        enableCache: true,
        rules: [
          {
            principals: { attributes: [{ building: 'plant-1', role: 'sensor' }] },
            brokerResources: [
              { method: 'Connect' },
              { method: 'Publish', topics: ['telemetry/{principal.clientId}/#'] },
              { method: 'Subscribe', topics: ['commands/{principal.clientId}'] },
            ],
          },
        ],
      },
    },
  },
  DiagnosticService: {
    name: 'diagnostics',
    label: 'the diagnostic service',
    plural: 'diagnostic services',
    tags,
    properties: {
      image: image('diagnostics-service'),
      logLevel: 'info',
      logFormat: 'text',
      dataExportFrequencySeconds: 10,
      maxDataStorageSize: 16,
      metricsPort: 9600,
      staleDataTimeoutSeconds: 600,
    },
  },
  MqttBridgeConnector: {
    name: 'eventgrid-bridge',
    label: 'a bridge to an Event Grid namespace',
    plural: 'MQTT bridge connectors',
    tags,
    properties: {
      image: image('mqttbridge'),
      protocol: 'v5',
      bridgeInstances: 2,
      clientIdPrefix: 'plant1-',
      logLevel: 'info',
      remoteBrokerConnection: {
        endpoint: 'contoso-plants.eastus-1.ts.eventgrid.azure.net:8883',
        protocol: 'mqtt',
        tls: { tlsEnabled: true },
        authentication: { systemAssignedManagedIdentity: { audience: 'https://eventgrid.azure.net' } },
      },
      localBrokerConnection,
    },
  },
  MqttBridgeTopicMap: {
    name: 'telemetry-routes',
    label: 'the telemetry routes of a bridge',
    plural: 'MQTT bridge topic maps',
    tags,
    properties: {
      mqttBridgeConnectorRef: 'eventgrid-bridge',
      routes: [
        {
          name: 'telemetry-up',
          direction: 'local-to-remote',
          source: 'telemetry/#',
          qos: 1,
          sharedSubscription: { groupName: 'bridge', groupMinimumShareNumber: 2 },
        },
        {
          name: 'commands-down',
          direction: 'remote-to-local',
          source: 'commands/plant-1/+',
          target: 'commands',
          qos: 1,
        },
      ],
    },
  },
  KafkaConnector: {
    name: 'eventhubs',
    label: 'a Kafka connector to an Event Hubs namespace',
    plural: 'Kafka connectors',
    tags,
    properties: {
      image: image('kafka'),
      instances: 2,
      clientIdPrefix: 'plant1-',
      logLevel: 'info',
      kafkaConnection: {
        endpoint: 'contoso-plants.servicebus.windows.net:9093',
        tls: { tlsEnabled: true },
        authentication: {
          enabled: true,
          authType: { systemAssignedManagedIdentity: { audience: 'https://contoso-plants.servicebus.windows.net' } },
        },
      },
      localBrokerConnection,
    },
  },
  KafkaConnectorTopicMap: {
    name: 'telemetry-hub',
    label: 'a topic map to the telemetry event hub',
    plural: 'Kafka connector topic maps',
    tags,
    properties: {
      kafkaConnectorRef: 'eventhubs',
      compression: 'gzip',
      batching: { enabled: true, latencyMs: 50, maxMessages: 1000, maxBytes: 1000000 },
      partitionStrategy: 'topic',
      copyMqttProperties: 'Enabled',
      routes: [
        {
          mqttToKafka: {
            name: 'telemetry',
            mqttTopic: 'telemetry/#',
            kafkaTopic: 'plant-telemetry',
            kafkaAcks: 'all',
            qos: 1,
          },
        },
        {
          kafkaToMqtt: {
            name: 'setpoints',
            kafkaTopic: 'plant-setpoints',
            mqttTopic: 'setpoints',
            consumerGroupId: 'plant-1',
            qos: 1,
          },
        },
      ],
    },
  },
  DataLakeConnector: {
    name: 'datalake',
    label: 'a Data Lake connector writing Delta tables',
    plural: 'Data Lake connectors',
    tags,
    properties: {
      image: image('datalake'),
      protocol: 'v5',
      instances: 1,
      logLevel: 'info',
      databaseFormat: 'delta',
      target: {
        datalakeStorage: {
          endpoint: 'https://contosoplantlake.blob.core.windows.net',
          authentication: { systemAssignedManagedIdentity: { audience: 'https://storage.azure.com' } },
        },
      },
      localBrokerConnection,
    },
  },
  DataLakeConnectorTopicMap: {
    name: 'orders-table',
    label: 'a topic map into the orders table',
    plural: 'Data Lake connector topic maps',
    tags,
    properties: {
      dataLakeConnectorRef: 'datalake',
      mapping: {
        allowedLatencySecs: 10,
        maxMessagesPerBatch: 10,
        clientId: 'plant1-orders',
        mqttSourceTopic: 'orders/#',
        qos: 1,
        messagePayloadType: 'json',
        table: {
          tableName: 'orders',
          schema: [
            { name: 'order_id', format: 'utf8', optional: false, mapping: 'data.orderId' },
            { name: 'quantity', format: 'int32', optional: false, mapping: 'data.quantity' },
            { name: 'client', format: 'utf8', optional: false, mapping: '$client_id' },
            { name: 'received', format: 'timestamp', optional: false, mapping: '$received_time' },
          ],
        },
      },
    },
  },
};
