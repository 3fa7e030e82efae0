// The MQ instance: the parent of every other MQ resource on one custom location.
@description('Name of the MQ instance (3-24 letters, digits or hyphens).')
@minLength(3)
@maxLength(24)
param name string

param location string = resourceGroup().location

@description('Full resource id of the cluster\'s custom location.')
param customLocationId string

resource mq 'Microsoft.IoTOperationsMQ/mq@2023-10-04-preview' = {
  name: name
  location: location
  extendedLocation: { name: customLocationId, type: 'CustomLocation' }
  properties: {}
}

output id string = mq.id
output name string = mq.name
