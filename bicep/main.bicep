// A realistic edge setup of Azure IoT MQ on one Arc-enabled cluster, composed of the modules in
// modules/: the MQ instance, a distributed broker with a TLS listener, authentication
// (service-account tokens, username/password) and authorization, the diagnostics service, an
// Event Grid MQTT bridge, an Event Hubs (Kafka) connector (behind enableKafka) and a Data Lake
// connector with one topic map per table. Every module after `mq` takes the instance's name from
// mq's outputs, which also orders it after mq.
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

@description('ADLS Gen2 account the Data Lake connector writes to.')
param storageAccountName string = 'contosoplantlake'

@description('Tables the Data Lake connector writes, one topic map each.')
param tables array = [
  { name: 'orders', topic: 'orders/#' }
  { name: 'telemetry', topic: 'telemetry/#' }
]

var customLocationId = resourceId(customLocationResourceGroup, 'Microsoft.ExtendedLocation/customLocations', customLocationName)
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

module mq 'modules/mq.bicep' = {
  name: '${deployment().name}-mq'
  params: {
    name: mqName
    location: location
    customLocationId: customLocationId
  }
}

module broker 'modules/broker.bicep' = {
  name: '${deployment().name}-broker'
  params: {
    mqName: mq.outputs.name
    location: location
    customLocationId: customLocationId
    memoryProfile: memoryProfile
    frontendReplicas: frontendReplicas
    listenerPort: listenerPort
    authenticationMethods: [
      { sat: { audiences: ['aio-mq'] } }
      { usernamePassword: { secretName: 'plant-passwords' } }
    ]
    authorizationRules: [
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

module diagnostics 'modules/diagnostics.bicep' = {
  name: '${deployment().name}-diagnostics'
  params: {
    mqName: mq.outputs.name
    location: location
    customLocationId: customLocationId
  }
}

module bridge 'modules/mqttBridge.bicep' = {
  name: '${deployment().name}-bridge'
  params: {
    mqName: mq.outputs.name
    location: location
    customLocationId: customLocationId
    remoteEndpoint: '${eventGridHostname}:8883'
    localBrokerConnection: localBrokerConnection
    routes: [
      { name: 'telemetry-up', direction: 'local-to-remote', source: 'telemetry/#', qos: 1 }
      { name: 'commands-down', direction: 'remote-to-local', source: 'commands/plant-1/+', target: 'commands', qos: 1 }
    ]
  }
}

module kafka 'modules/kafka.bicep' = if (enableKafka) {
  name: '${deployment().name}-kafka'
  params: {
    mqName: mq.outputs.name
    location: location
    customLocationId: customLocationId
    eventHubsNamespace: eventHubsNamespace
    localBrokerConnection: localBrokerConnection
    routes: [
      { mqttToKafka: { name: 'telemetry', mqttTopic: 'telemetry/#', kafkaTopic: 'plant-telemetry', kafkaAcks: 'all', qos: 1 } }
    ]
  }
}

module dataLake 'modules/dataLake.bicep' = {
  name: '${deployment().name}-datalake'
  params: {
    mqName: mq.outputs.name
    location: location
    customLocationId: customLocationId
    storageAccountName: storageAccountName
    localBrokerConnection: localBrokerConnection
    tables: tables
  }
}

output mqId string = mq.outputs.id
output brokerId string = broker.outputs.id
output listenerPort int = broker.outputs.listenerPort
output brokerState string = broker.outputs.provisioningState
output topicMapIds array = dataLake.outputs.topicMapIds
