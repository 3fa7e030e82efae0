// The Azure SDK for JavaScript against `iotmq dev`, over HTTPS: @azure/identity ClientSecretCredential
// (authorityHost = ours, instance discovery off) and @azure/arm-resources ResourceManagementClient
// (endpoint = ours). LROs complete because a fake agent reports through the RP's agent API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import { converge, REJECTED } from './fake-agent.js';
import { MQ_API, startArm, type ArmHarness } from './harness.js';

let arm: ArmHarness;
beforeAll(async () => {
  // Converges everything in flight except creates of resources named `failing*`, which one test fails itself.
  arm = await startArm({
    agent: (resource, state) =>
      state !== 'Deleting' && String(resource.name).startsWith('failing') ? undefined : converge(resource, state),
  });
});
afterAll(async () => {
  await arm?.close();
});

const mqType = (rg: string, ...path: string[]) =>
  `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.IoTOperationsMQ/${path.join('/')}`;
const body = (tag: keyof typeof SAMPLES) => ({
  location: 'eastus',
  extendedLocation: { name: arm.dev.config.customLocationId, type: 'CustomLocation' },
  tags: { env: 'test' },
  properties: SAMPLES[tag]!.properties,
});

describe('first start of iotmq dev', () => {
  it('made the resource group, connected cluster and custom location, and registered the provider', async () => {
    const group = await arm.client.resourceGroups.get('iotmq-local');
    expect(group).toMatchObject({
      name: 'iotmq-local',
      location: 'eastus',
      properties: { provisioningState: 'Succeeded' },
    });
    const cl = await arm.client.resources.getById(arm.dev.config.customLocationId, '2021-08-15');
    expect(cl.properties).toMatchObject({
      hostResourceId: arm.dev.config.clusterId,
      namespace: 'azure-iot-operations',
    });
    const provider = await arm.client.providers.get('Microsoft.IoTOperationsMQ');
    expect(provider.registrationState).toBe('Registered');
    expect(provider.resourceTypes!.map((t) => t.resourceType)).toEqual(
      expect.arrayContaining(['mq', 'mq/broker', 'mq/broker/listener']),
    );
    const rpSubscription = await arm.dev.rpStore.subscriptions.get(arm.dev.config.subscriptionId);
    expect(rpSubscription?.state).toBe('Registered');
  });
  it('lists the subscription and tenant for the caller', async () => {
    const subs = await arm.call('GET', '/subscriptions?api-version=2022-12-01');
    expect(subs.body.value).toEqual([
      expect.objectContaining({
        subscriptionId: arm.dev.config.subscriptionId,
        tenantId: arm.dev.config.tenantId,
        state: 'Enabled',
      }),
    ]);
    const tenants = await arm.call('GET', '/tenants?api-version=2022-12-01');
    expect(tenants.body.value[0].tenantId).toBe(arm.dev.config.tenantId);
  });
});

describe('resource groups', () => {
  it('create, get, list, tags, exists', async () => {
    const created = await arm.client.resourceGroups.createOrUpdate('Plant-1', {
      location: 'West US',
      tags: { site: 'a' },
    });
    expect(created).toMatchObject({
      name: 'Plant-1',
      location: 'westus',
      tags: { site: 'a' },
      type: 'Microsoft.Resources/resourceGroups',
    });
    expect(created.id).toBe(`/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/Plant-1`);
    expect((await arm.client.resourceGroups.checkExistence('plant-1')).body).toBe(true);
    expect((await arm.client.resourceGroups.checkExistence('nowhere')).body).toBe(false);
    const updated = await arm.client.resourceGroups.update('plant-1', { tags: { site: 'b' } });
    expect(updated.tags).toEqual({ site: 'b' });
    const names = [];
    for await (const g of arm.client.resourceGroups.list()) names.push(g.name);
    expect(names).toEqual(expect.arrayContaining(['iotmq-local', 'Plant-1']));
  });
  it('404 ResourceGroupNotFound for MQ writes into a missing group, before the RP', async () => {
    const response = await arm.call('PUT', `${mqType('missing-rg', 'mq', 'mq1')}?api-version=${MQ_API}`, body('Mq'));
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('ResourceGroupNotFound');
  });
});

describe('MQ resources through ARM (generic resources client)', () => {
  it('creates mq and broker with LROs that complete, as the RP stored them', async () => {
    await arm.client.resourceGroups.createOrUpdate('edge', { location: 'eastus' });
    const mq = await arm.client.resources.beginCreateOrUpdateByIdAndWait(
      mqType('edge', 'mq', 'mq1'),
      MQ_API,
      body('Mq'),
    );
    expect(mq).toMatchObject({ name: 'mq1', type: 'Microsoft.IoTOperationsMQ/mq', location: 'eastus' });
    const broker = await arm.client.resources.beginCreateOrUpdateByIdAndWait(
      mqType('edge', 'mq', 'mq1', 'broker', 'broker'),
      MQ_API,
      body('Broker'),
    );
    expect((broker.properties as { provisioningState: string }).provisioningState).toBe('Succeeded');

    const stored = await arm.dev.rpStore.resources.get(mqType('edge', 'mq', 'mq1', 'broker', 'broker'));
    expect(stored?.body).toMatchObject({ properties: { provisioningState: 'Succeeded' } });
    // systemData came from the front door's x-ms-arm-resource-system-data: the app id of the caller.
    expect(stored?.body.systemData).toMatchObject({ createdBy: arm.dev.config.clientId, createdByType: 'Application' });
    expect(String((stored?.body.systemData as { createdAt: string }).createdAt)).toMatch(/\.\d{7}Z$/);

    const got = await arm.client.resources.getById(mqType('edge', 'mq', 'mq1', 'broker', 'broker'), MQ_API);
    expect(got.id).toBe(mqType('edge', 'mq', 'mq1', 'broker', 'broker'));
  });

  it('lists the tracked resources of a group and of the subscription with $filter', async () => {
    const inGroup = [];
    for await (const r of arm.client.resources.listByResourceGroup('edge')) inGroup.push(r.type);
    expect(inGroup).toEqual(
      expect.arrayContaining(['Microsoft.IoTOperationsMQ/mq', 'Microsoft.IoTOperationsMQ/mq/broker']),
    );
    const filtered = [];
    for await (const r of arm.client.resources.list({ filter: "resourceType eq 'Microsoft.IoTOperationsMQ/mq'" }))
      filtered.push(r.id);
    expect(filtered).toEqual([mqType('edge', 'mq', 'mq1')]);
  });

  it('refuses an extendedLocation that names no custom location (the RP asks ARM through the SDK)', async () => {
    const bad = {
      ...body('Mq'),
      extendedLocation: {
        name: arm.dev.config.customLocationId.replace('local-cl', 'nowhere-cl'),
        type: 'CustomLocation',
      },
    };
    const response = await arm.call('PUT', `${mqType('edge', 'mq', 'mq2')}?api-version=${MQ_API}`, bad);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'InvalidExtendedLocation', target: 'extendedLocation.name' });
  });

  it('an RP failure surfaces as the LRO error', async () => {
    const failing = await arm.startAgent((resource, state) =>
      String(resource.name) === 'failing' && state === 'Accepted' ? REJECTED : undefined,
    );
    try {
      await arm.client.resources.beginCreateOrUpdateByIdAndWait(mqType('edge', 'mq', 'failing'), MQ_API, body('Mq'));
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).toMatch(/memory profile too small|BrokerRejected|failed/i);
    } finally {
      await failing.stop();
    }
  });

  it('deletes a resource by id with its LRO', async () => {
    await arm.client.resources.beginDeleteByIdAndWait(mqType('edge', 'mq', 'mq1', 'broker', 'broker'), MQ_API);
    expect(await arm.dev.rpStore.resources.get(mqType('edge', 'mq', 'mq1', 'broker', 'broker'))).toBeUndefined();
  });

  it('deleting the group cascades to every MQ resource in it (async, 202 + Location)', async () => {
    await arm.client.resources.beginCreateOrUpdateByIdAndWait(
      mqType('edge', 'mq', 'mq1', 'broker', 'broker'),
      MQ_API,
      body('Broker'),
    );
    await arm.client.resourceGroups.beginDeleteAndWait('edge');
    expect((await arm.client.resourceGroups.checkExistence('edge')).body).toBe(false);
    expect(await arm.dev.rpStore.resources.get(mqType('edge', 'mq', 'mq1'))).toBeUndefined();
    expect(await arm.dev.rpStore.resources.get(mqType('edge', 'mq', 'mq1', 'broker', 'broker'))).toBeUndefined();
    const left = [];
    for await (const r of arm.client.resources.list()) left.push(r.id);
    expect(left.filter((id) => id?.toLowerCase().includes('/resourcegroups/edge/'))).toEqual([]);
  });
});

describe('provider registration', () => {
  it('unregistered → 409 MissingSubscriptionRegistration; register sends the RP the lifecycle notification', async () => {
    await arm.client.resourceGroups.createOrUpdate('reg', { location: 'eastus' });
    const unregistered = await arm.client.providers.unregister('Microsoft.IoTOperationsMQ');
    expect(unregistered.registrationState).toBe('NotRegistered');
    expect((await arm.dev.rpStore.subscriptions.get(arm.dev.config.subscriptionId))?.state).toBe('Unregistered');
    const refused = await arm.call('PUT', `${mqType('reg', 'mq', 'mq1')}?api-version=${MQ_API}`, body('Mq'));
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('MissingSubscriptionRegistration');

    const registered = await arm.client.providers.register('Microsoft.IoTOperationsMQ');
    expect(registered.registrationState).toBe('Registered');
    expect((await arm.dev.rpStore.subscriptions.get(arm.dev.config.subscriptionId))?.state).toBe('Registered');
    const mq = await arm.client.resources.beginCreateOrUpdateByIdAndWait(
      mqType('reg', 'mq', 'mq1'),
      MQ_API,
      body('Mq'),
    );
    expect(mq.name).toBe('mq1');
  });
});
