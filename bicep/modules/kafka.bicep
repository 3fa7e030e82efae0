// A Kafka connector to an Event Hubs namespace with its topic map.
@description('Name of the parent MQ instance.')
param mqName string

param name string = 'eventhubs'

param location string = resourceGroup().location

@description('Full resource id of the cluster\'s custom location.')
param customLocationId string

@description('Tag of the IoT MQ images.')
param imageTag string = '0.1.0-preview'

@minValue(1)
param instances int = 2

param clientIdPrefix string = '${mqName}-'

@description('The Event Hubs namespace (its Kafka endpoint is <namespace>.servicebus.windows.net:9093).')
param eventHubsNamespace string

@description('How the connector connects to the local broker (endpoint, tls, authentication).')
param localBrokerConnection object

param topicMapName string = 'telemetry'

@description('Routes of the topic map: mqttToKafka or kafkaToMqtt entries.')
param routes array

resource mq 'Microsoft.IoTOperationsMQ/mq@2023-10-04-preview' existing = {
  name: mqName
}

resource kafka 'Microsoft.IoTOperationsMQ/mq/kafkaConnector@2023-10-04-preview' = {
  parent: mq
  name: name
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/kafka', tag: imageTag, pullPolicy: 'IfNotPresent' }
    instances: instances
    clientIdPrefix: clientIdPrefix
    logLevel: 'info'
    kafkaConnection: {
      endpoint: '${eventHubsNamespace}.servicebus.windows.net:9093'
      tls: { tlsEnabled: true }
      authentication: { enabled: true, authType: { systemAssignedManagedIdentity: { audience: 'https://${eventHubsNamespace}.servicebus.windows.net' } } }
    }
    localBrokerConnection: localBrokerConnection
  }
}

resource topicMap 'Microsoft.IoTOperationsMQ/mq/kafkaConnector/topicMap@2023-10-04-preview' = {
  parent: kafka
  name: topicMapName
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
  properties: {
    kafkaConnectorRef: kafka.name
    compression: 'gzip'
    batching: { enabled: true, latencyMs: 50, maxMessages: 1000, maxBytes: 1000000 }
    partitionStrategy: 'topic'
    copyMqttProperties: 'Enabled'
    routes: routes
  }
}

output id string = kafka.id
output topicMapId string = topicMap.id
