// A realistic edge setup of Azure IoT MQ on one Arc-enabled cluster: the MQ instance, a distributed
// broker with a TLS listener, authentication (service-account tokens, username/password) and
// authorization, the diagnostics service, an Event Grid MQTT bridge, an Event Hubs (Kafka)
// connector and Data Lake connector topic maps, one per table (a loop).
@description('Name of the MQ instance (3-24 letters, digits or hyphens).')
@minLength(3)
@maxLength(24)
param mqName string = 'mq-instance'

@description('Location of the resources; defaults to the resource group\'s.')
param location string = resourceGroup().location

@description('The custom location of the cluster.')
param customLocationName string

@description('Resource group of the custom location.')
param customLocationResourceGroup string = resourceGroup().name

@allowed(['tiny', 'low', 'medium', 'high'])
param memoryProfile string = 'medium'

@description('Frontend replicas of the broker.')
@minValue(1)
@maxValue(16)
param frontendReplicas int = 2

param listenerPort int = 8883

@description('Event Grid namespace MQTT hostname the bridge connects to.')
param eventGridHostname string = 'contoso-plants.eastus-1.ts.eventgrid.azure.net'

@description('Deploy the Event Hubs (Kafka) connector.')
param enableKafka bool = true

param eventHubsNamespace string = 'contoso-plants'

@description('Tables the Data Lake connector writes, one topic map each.')
param tables array = [
  { name: 'orders', topic: 'orders/#' }
  { name: 'telemetry', topic: 'telemetry/#' }
]

var extendedLocation = {
  name: resourceId(customLocationResourceGroup, 'Microsoft.ExtendedLocation/customLocations', customLocationName)
  type: 'CustomLocation'
}
var imageTag = '0.1.0-preview'
var localBrokerConnection = {
  endpoint: 'aio-mq-dmqtt-frontend:${listenerPort}'
  tls: {
    tlsEnabled: true
    trustedCaCertificateConfigMap: 'aio-ca-trust-bundle-test-only'
  }
  authentication: {
    kubernetes: {}
  }
}

resource mq 'Microsoft.IoTOperationsMQ/mq@2023-10-04-preview' = {
  name: mqName
  location: location
  extendedLocation: extendedLocation
  properties: {}
}

resource broker 'Microsoft.IoTOperationsMQ/mq/broker@2023-10-04-preview' = {
  parent: mq
  name: 'broker'
  location: location
  extendedLocation: extendedLocation
  properties: {
    authImage: { repository: 'mcr.microsoft.com/azureiotoperations/dmqtt-authentication', tag: imageTag, pullPolicy: 'IfNotPresent' }
    brokerImage: { repository: 'mcr.microsoft.com/azureiotoperations/dmqtt-pod', tag: imageTag, pullPolicy: 'IfNotPresent' }
    healthManagerImage: { repository: 'mcr.microsoft.com/azureiotoperations/dmqtt-operator', tag: imageTag, pullPolicy: 'IfNotPresent' }
    mode: 'distributed'
    memoryProfile: memoryProfile
    encryptInternalTraffic: true
    cardinality: {
      frontend: { replicas: frontendReplicas, workers: 2 }
      backendChain: { partitions: 2, redundancyFactor: 2, workers: 2 }
    }
    diagnostics: { enableMetrics: true, enableSelfCheck: true, logLevel: 'info', logFormat: 'text', diagnosticServiceEndpoint: 'aio-mq-diagnostics-service:9700' }
  }
}

resource listener 'Microsoft.IoTOperationsMQ/mq/broker/listener@2023-10-04-preview' = {
  parent: broker
  name: 'listener'
  location: location
  extendedLocation: extendedLocation
  properties: {
    brokerRef: broker.name
    port: listenerPort
    serviceName: 'aio-mq-dmqtt-frontend'
    serviceType: 'clusterIp'
    authenticationEnabled: true
    authorizationEnabled: true
    tls: {
      automatic: {
        issuerRef: { name: 'mq-dmqtt-frontend', kind: 'Issuer', group: 'cert-manager.io' }
        duration: '720h'
        renewBefore: '240h'
      }
    }
  }
}

resource authentication 'Microsoft.IoTOperationsMQ/mq/broker/authentication@2023-10-04-preview' = {
  parent: broker
  name: 'authn'
  location: location
  extendedLocation: extendedLocation
  properties: {
    listenerRef: [listener.name]
    authenticationMethods: [
      { sat: { audiences: ['aio-mq'] } }
      { usernamePassword: { secretName: 'plant-passwords' } }
    ]
  }
}

resource authorization 'Microsoft.IoTOperationsMQ/mq/broker/authorization@2023-10-04-preview' = {
  parent: broker
  name: 'authz'
  location: location
  extendedLocation: extendedLocation
  properties: {
    listenerRef: [listener.name]
    authorizationPolicies: {
      enableCache: true
      rules: [
        {
          principals: { attributes: [{ building: 'plant-1', role: 'sensor' }] }
          brokerResources: [
            { method: 'Connect' }
            { method: 'Publish', topics: ['telemetry/{principal.clientId}/#'] }
            { method: 'Subscribe', topics: ['commands/{principal.clientId}'] }
          ]
        }
      ]
    }
  }
}

resource diagnostics 'Microsoft.IoTOperationsMQ/mq/diagnosticService@2023-10-04-preview' = {
  parent: mq
  name: 'diagnostics'
  location: location
  extendedLocation: extendedLocation
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/diagnostics-service', tag: imageTag, pullPolicy: 'IfNotPresent' }
    logLevel: 'info'
    logFormat: 'text'
    dataExportFrequencySeconds: 10
    maxDataStorageSize: 16
    metricsPort: 9600
    staleDataTimeoutSeconds: 600
  }
}

resource bridge 'Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector@2023-10-04-preview' = {
  parent: mq
  name: 'eventgrid-bridge'
  location: location
  extendedLocation: extendedLocation
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/mqttbridge', tag: imageTag, pullPolicy: 'IfNotPresent' }
    protocol: 'v5'
    bridgeInstances: 2
    clientIdPrefix: '${mqName}-'
    logLevel: 'info'
    remoteBrokerConnection: {
      endpoint: '${eventGridHostname}:8883'
      protocol: 'mqtt'
      tls: { tlsEnabled: true }
      authentication: { systemAssignedManagedIdentity: { audience: 'https://eventgrid.azure.net' } }
    }
    localBrokerConnection: localBrokerConnection
  }
}

resource bridgeTopicMap 'Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector/topicMap@2023-10-04-preview' = {
  parent: bridge
  name: 'routes'
  location: location
  extendedLocation: extendedLocation
  properties: {
    mqttBridgeConnectorRef: bridge.name
    routes: [
      { name: 'telemetry-up', direction: 'local-to-remote', source: 'telemetry/#', qos: 1 }
      { name: 'commands-down', direction: 'remote-to-local', source: 'commands/plant-1/+', target: 'commands', qos: 1 }
    ]
  }
}

resource kafka 'Microsoft.IoTOperationsMQ/mq/kafkaConnector@2023-10-04-preview' = if (enableKafka) {
  parent: mq
  name: 'eventhubs'
  location: location
  extendedLocation: extendedLocation
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/kafka', tag: imageTag, pullPolicy: 'IfNotPresent' }
    instances: 2
    clientIdPrefix: '${mqName}-'
    logLevel: 'info'
    kafkaConnection: {
      endpoint: '${eventHubsNamespace}.servicebus.windows.net:9093'
      tls: { tlsEnabled: true }
      authentication: { enabled: true, authType: { systemAssignedManagedIdentity: { audience: 'https://${eventHubsNamespace}.servicebus.windows.net' } } }
    }
    localBrokerConnection: localBrokerConnection
  }
}

resource kafkaTopicMap 'Microsoft.IoTOperationsMQ/mq/kafkaConnector/topicMap@2023-10-04-preview' = if (enableKafka) {
  parent: kafka
  name: 'telemetry'
  location: location
  extendedLocation: extendedLocation
  properties: {
    kafkaConnectorRef: kafka.name
    compression: 'gzip'
    batching: { enabled: true, latencyMs: 50, maxMessages: 1000, maxBytes: 1000000 }
    partitionStrategy: 'topic'
    copyMqttProperties: 'Enabled'
    routes: [
      { mqttToKafka: { name: 'telemetry', mqttTopic: 'telemetry/#', kafkaTopic: 'plant-telemetry', kafkaAcks: 'all', qos: 1 } }
    ]
  }
}

resource dataLake 'Microsoft.IoTOperationsMQ/mq/dataLakeConnector@2023-10-04-preview' = {
  parent: mq
  name: 'datalake'
  location: location
  extendedLocation: extendedLocation
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/datalake', tag: imageTag, pullPolicy: 'IfNotPresent' }
    protocol: 'v5'
    instances: 1
    logLevel: 'info'
    databaseFormat: 'delta'
    target: {
      datalakeStorage: {
        endpoint: 'https://contosoplantlake.blob.core.windows.net'
        authentication: { systemAssignedManagedIdentity: { audience: 'https://storage.azure.com' } }
      }
    }
    localBrokerConnection: localBrokerConnection
  }
}

resource dataLakeTopicMaps 'Microsoft.IoTOperationsMQ/mq/dataLakeConnector/topicMap@2023-10-04-preview' = [for table in tables: {
  parent: dataLake
  name: table.name
  location: location
  extendedLocation: extendedLocation
  properties: {
    dataLakeConnectorRef: dataLake.name
    mapping: {
      allowedLatencySecs: 10
      maxMessagesPerBatch: 10
      clientId: '${mqName}-${table.name}'
      mqttSourceTopic: table.topic
      qos: 1
      messagePayloadType: 'json'
      table: {
        tableName: table.name
        schema: [
          { name: 'payload', format: 'utf8', optional: false, mapping: 'data' }
          { name: 'client', format: 'utf8', optional: false, mapping: '$client_id' }
          { name: 'received', format: 'timestamp', optional: false, mapping: '$received_time' }
        ]
      }
    }
  }
}]

output mqId string = mq.id
output brokerId string = broker.id
output listenerPort int = listener.properties.port
output brokerState string = broker.properties.provisioningState
output topicMapIds array = [for (table, i) in tables: dataLakeTopicMaps[i].id]
