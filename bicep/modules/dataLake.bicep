// A Data Lake connector writing Delta tables to ADLS Gen2, with one topic map per table (a loop).
@description('Name of the parent MQ instance.')
param mqName string

param name string = 'datalake'

param location string = resourceGroup().location

@description('Full resource id of the cluster\'s custom location.')
param customLocationId string

@description('Tag of the IoT MQ images.')
param imageTag string = '0.1.0-preview'

@description('The storage account (hierarchical namespace) the tables are written to.')
param storageAccountName string

@description('How the connector connects to the local broker (endpoint, tls, authentication).')
param localBrokerConnection object

@description('Tables to write, one topic map each: { name, topic }.')
param tables array

resource mq 'Microsoft.IoTOperationsMQ/mq@2023-10-04-preview' existing = {
  name: mqName
}

resource dataLake 'Microsoft.IoTOperationsMQ/mq/dataLakeConnector@2023-10-04-preview' = {
  parent: mq
  name: name
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/datalake', tag: imageTag, pullPolicy: 'IfNotPresent' }
    protocol: 'v5'
    instances: 1
    logLevel: 'info'
    databaseFormat: 'delta'
    target: {
      datalakeStorage: {
        endpoint: 'https://${storageAccountName}.blob.core.windows.net'
        authentication: { systemAssignedManagedIdentity: { audience: 'https://storage.azure.com' } }
      }
    }
    localBrokerConnection: localBrokerConnection
  }
}

resource topicMaps 'Microsoft.IoTOperationsMQ/mq/dataLakeConnector/topicMap@2023-10-04-preview' = [for table in tables: {
  parent: dataLake
  name: table.name
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
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

output id string = dataLake.id
output topicMapIds array = [for (table, i) in tables: topicMaps[i].id]
