// The front door holds a PUT's location against the regions the provider registered the type in
// [SHAPE-3, RES-4]: 400 LocationNotAvailableForResourceType before the RP sees the request, for a
// client's PUT and for a template deployment's (the RP's inner error).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQ_API, startArm, type ArmHarness } from './harness.js';

let arm: ArmHarness;
beforeAll(async () => {
  arm = await startArm({ agent: true });
  await arm.client.resourceGroups.createOrUpdate('regions', { location: 'eastus' });
});
afterAll(async () => {
  await arm?.close();
});

const mqPath = (...path: string[]) =>
  `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/regions/providers/Microsoft.IoTOperationsMQ/${path.join('/')}`;
const body = (location: string) => ({
  location,
  extendedLocation: { name: arm.dev.config.customLocationId, type: 'CustomLocation' },
  properties: {},
});

describe('locations of the MQ resource types', () => {
  it('the provider lists each type with its locations', async () => {
    const provider = await arm.client.providers.get('Microsoft.IoTOperationsMQ');
    const mq = provider.resourceTypes?.find((t) => t.resourceType === 'mq');
    expect(mq?.locations).toEqual(expect.arrayContaining(['East US', 'West Europe']));
    expect(mq?.locations).not.toContain('Japan East');
  });

  it('a PUT in a region not registered for the type gets 400 LocationNotAvailableForResourceType and never reaches the RP', async () => {
    const response = await arm.call('PUT', `${mqPath('mq', 'tokyo')}?api-version=${MQ_API}`, body('Japan East'));
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({
      code: 'LocationNotAvailableForResourceType',
      message: expect.stringContaining("'Microsoft.IoTOperationsMQ/mq'"),
    });
    expect(response.body.error.message).toContain('eastus,');
    expect(await arm.dev.rpStore.resources.get(mqPath('mq', 'tokyo'))).toBeUndefined();
  });

  it('a registered region passes in any spelling ARM accepts (case, spaces)', async () => {
    const response = await arm.call('PUT', `${mqPath('mq', 'east')}?api-version=${MQ_API}`, body('East US'));
    expect(response.status).toBe(201);
    expect((await arm.dev.rpStore.resources.get(mqPath('mq', 'east')))?.body).toMatchObject({ location: 'eastus' });
  });

  it('a template deployment of a resource in such a region fails with it as the inner error', async () => {
    const template = {
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      contentVersion: '1.0.0.0',
      resources: [{ type: 'Microsoft.IoTOperationsMQ/mq', apiVersion: MQ_API, name: 'far', ...body('japaneast') }],
    };
    const deployments = `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/regions/providers/Microsoft.Resources/deployments`;
    const put = await arm.call('PUT', `${deployments}/far?api-version=2022-09-01`, {
      properties: { mode: 'Incremental', template },
    });
    expect(put.status).toBe(201);
    let status = 'Running';
    while (status === 'Running' || status === 'Accepted') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await arm.call('GET', `${deployments}/far?api-version=2022-09-01`)).body.properties.provisioningState;
    }
    const result = (await arm.call('GET', `${deployments}/far?api-version=2022-09-01`)).body;
    expect(result.properties).toMatchObject({
      provisioningState: 'Failed',
      error: {
        code: 'DeploymentFailed',
        details: [expect.objectContaining({ code: 'LocationNotAvailableForResourceType' })],
      },
    });
  });
});
