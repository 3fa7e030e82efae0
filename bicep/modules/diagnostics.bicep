// The diagnostics service of an MQ instance (metrics and self-check results of its brokers).
@description('Name of the parent MQ instance.')
param mqName string

param name string = 'diagnostics'

param location string = resourceGroup().location

@description('Full resource id of the cluster\'s custom location.')
param customLocationId string

@description('Tag of the IoT MQ images.')
param imageTag string = '0.1.0-preview'

@allowed(['trace', 'debug', 'info', 'warn', 'error'])
param logLevel string = 'info'

resource mq 'Microsoft.IoTOperationsMQ/mq@2023-10-04-preview' existing = {
  name: mqName
}

resource diagnostics 'Microsoft.IoTOperationsMQ/mq/diagnosticService@2023-10-04-preview' = {
  parent: mq
  name: name
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
  properties: {
    image: { repository: 'mcr.microsoft.com/azureiotoperations/diagnostics-service', tag: imageTag, pullPolicy: 'IfNotPresent' }
    logLevel: logLevel
    logFormat: 'text'
    dataExportFrequencySeconds: 10
    maxDataStorageSize: 16
    metricsPort: 9600
    staleDataTimeoutSeconds: 600
  }
}

output id string = diagnostics.id
