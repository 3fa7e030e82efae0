// The push path end to end on this machine: a real RP (HTTP, SQLite) → agent → local cluster API →
// operator → local driver → `iotmq broker` process, and status all the way back to the RP's
// async operation. Only the ARM front door is left out (the RP harness signs the tokens).
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../../scripts/specs/samples.js';
import { startLocalCluster, type LocalClusterHandles } from '../../extension/operator/index.js';
import {
  API,
  CLUSTER,
  CUSTOM_LOCATION,
  mqBody,
  registerSubscription,
  rg,
  startRp,
  type RpHarness,
} from '../integration/rp/harness.js';
import { eventually } from '../support/eventually.js';
import { accepts, freePort } from '../support/ports.js';

let rp: RpHarness;
let local: LocalClusterHandles;
let dir: string;
const listenerPath = (name: string) => `${rg()}/mq/mq-instance/broker/broker/listener/${name}`;
const body = (properties: Record<string, unknown>) => ({
  location: 'eastus',
  extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
  properties,
});

async function operationOf(response: { headers: Headers }) {
  const url = new URL(response.headers.get('azure-asyncoperation')!);
  return eventually(
    'operation done',
    async () => {
      const result = (await rp.call('GET', url.pathname + url.search)).body;
      return ['Succeeded', 'Failed', 'Canceled'].includes(result.status) ? result : undefined;
    },
    30_000,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-e2e-'));
  rp = await startRp();
  await registerSubscription(rp);
  local = await startLocalCluster({
    dataDir: dir,
    rpUrl: rp.url,
    clusterId: CLUSTER,
    namespace: 'azure-iot-operations',
    credential: {
      getToken: async () => ({ token: await rp.agentToken(), expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
  });
  await local.agent.synced;
  expect((await operationOf(await rp.call('PUT', `${rg()}/mq/mq-instance?${API}`, mqBody()))).status).toBe('Succeeded');
  const broker = await rp.call(
    'PUT',
    `${rg()}/mq/mq-instance/broker/broker?${API}`,
    body({ ...SAMPLES.Broker!.properties, mode: 'auto' }),
  );
  expect((await operationOf(broker)).status).toBe('Succeeded');
});

afterAll(async () => {
  await local?.stop();
  await rp?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('RP → agent → operator → broker, on this machine', () => {
  let port: number;

  it('PUT a listener on a free port: the operation succeeds and an MQTT client connects there', async () => {
    port = await freePort();
    const put = await rp.call(
      'PUT',
      `${listenerPath('plain')}?${API}`,
      body({
        brokerRef: 'broker',
        port,
        serviceType: 'clusterIp',
        authenticationEnabled: false,
        authorizationEnabled: false,
      }),
    );
    expect(put.status).toBe(201);
    expect((await operationOf(put)).status).toBe('Succeeded');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await client.endAsync();
  });

  it('a listener on a port already in use fails, with the reason visible in GET', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const busy = (blocker.address() as net.AddressInfo).port;
      const put = await rp.call('PUT', `${listenerPath('busy')}?${API}`, body({ brokerRef: 'broker', port: busy }));
      const operation = await operationOf(put);
      expect(operation.status).toBe('Failed');
      expect(operation.error.code).toBe('PortInUse');
      expect(operation.error.message).toContain(String(busy));
      expect((await rp.call('GET', `${listenerPath('busy')}?${API}`)).body.properties.provisioningState).toBe('Failed');
    } finally {
      blocker.close();
    }
  });

  it('DELETE the listener: the port closes and the resource is gone', async () => {
    const del = await rp.call('DELETE', `${listenerPath('plain')}?${API}`);
    expect(del.status).toBe(202);
    await eventually(
      'gone',
      async () => (await rp.call('GET', `${listenerPath('plain')}?${API}`)).status === 404,
      30_000,
    );
    expect(await accepts(port)).toBe(false);
  });
});
