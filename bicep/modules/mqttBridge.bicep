// An MQTT bridge to a remote broker (an Event Grid namespace) with its topic map.
@description('Name of the parent MQ instance.')
param mqName string

param name string = 'eventgrid-bridge'

param location string = resourceGroup().location

@description('Full resource id of the cluster\'s custom location.')
param customLocationId string

@description('Tag of the IoT MQ images.')
param imageTag string = '0.1.0-preview'

@minValue(1)
param bridgeInstances int = 2

param clientIdPrefix string = '${mqName}-'

@description('host:port of the remote MQTT broker.')
param remoteEndpoint string

@description('Audience of the managed identity token the bridge presents to the remote broker.')
param remoteAudience string = 'https://eventgrid.azure.net'

@description('How the bridge connects to the local broker (endpoint, tls, authentication).')
param localBrokerConnection object

param topicMapName string = 'routes'

@description('Routes of the topic map: name, direction, source, target?, qos.')
param routes array

resource mq 'Microsoft.IoTOperationsMQ/mq@2023-10-04-preview' existing = {
  name: mqName
}

resource bridge 'Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector@2023-10-04-preview' = {
  parent: mq
  name: name
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/mqttbridge', tag: imageTag, pullPolicy: 'IfNotPresent' }
    protocol: 'v5'
    bridgeInstances: bridgeInstances
    clientIdPrefix: clientIdPrefix
    logLevel: 'info'
    remoteBrokerConnection: {
      endpoint: remoteEndpoint
      protocol: 'mqtt'
      tls: { tlsEnabled: true }
      authentication: { systemAssignedManagedIdentity: { audience: remoteAudience } }
    }
    localBrokerConnection: localBrokerConnection
  }
}

resource topicMap 'Microsoft.IoTOperationsMQ/mq/mqttBridgeConnector/topicMap@2023-10-04-preview' = {
  parent: bridge
  name: topicMapName
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
  properties: {
    mqttBridgeConnectorRef: bridge.name
    routes: routes
  }
}

output id string = bridge.id
output topicMapId string = topicMap.id
