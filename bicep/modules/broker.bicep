// A broker with what clients reach it through: one listener, and that listener's authentication
// and authorization. One module rather than four: authentication and authorization name the
// listener (listenerRef) and the listener names the broker (brokerRef), so the four are deployed
// and versioned together; the methods and rules are parameters.
@description('Name of the parent MQ instance.')
param mqName string

@description('Name of the broker.')
param name string = 'broker'

param location string = resourceGroup().location

@description('Full resource id of the cluster\'s custom location.')
param customLocationId string

@description('Tag of the IoT MQ images.')
param imageTag string = '0.1.0-preview'

@allowed(['tiny', 'low', 'medium', 'high'])
param memoryProfile string = 'medium'

@description('Frontend replicas of the broker.')
@minValue(1)
@maxValue(16)
param frontendReplicas int = 2

param listenerName string = 'listener'

param listenerPort int = 8883

@description('Authentication methods of the listener: sat, usernamePassword, x509 or custom entries.')
param authenticationMethods array = [
  { sat: { audiences: ['aio-mq'] } }
]

@description('Authorization rules of the listener: principals and the broker resources they may use.')
param authorizationRules array

var extendedLocation = { name: customLocationId, type: 'CustomLocation' }

resource mq 'Microsoft.IoTOperationsMQ/mq@2023-10-04-preview' existing = {
  name: mqName
}

resource broker 'Microsoft.IoTOperationsMQ/mq/broker@2023-10-04-preview' = {
  parent: mq
  name: name
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
  name: listenerName
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
    authenticationMethods: authenticationMethods
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
      rules: authorizationRules
    }
  }
}

output id string = broker.id
output name string = broker.name
output listenerPort int = listener.properties.port
output provisioningState string = broker.properties.provisioningState
