// The whole push path as a user drives it: the Azure SDK (through the ARM front door, with a token
// from the identity stand-in) → RP → agent → local cluster → operator → local driver → `iotmq
// broker` process, and MQTT.js clients on the ports that come and go. One live `startDev()` on
// free ports; the tests run in order and build on each other (a listener is created, re-secured,
// moved while the agent is down, survives a broker crash, and is deleted).
import net from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crType, type Agent } from '../../extension/agent/index.js';
import { workloadName } from '../../extension/operator/index.js';
import {
  accepts,
  API_VERSION,
  freePort,
  listenerProperties,
  NAMESPACE,
  processesUnder,
  startDevStack,
  until,
  type DevStack,
} from './dev-stack.js';

let stack: DevStack;
/** Replaces the local cluster's agent after the restart test; stopped in afterAll. */
let restartedAgent: Agent | undefined;
const brokerPids = new Set<number>();
const clients: MqttClient[] = [];

// ARM clients poll operations; the stand-in sends Retry-After: 0 and the SDK then polls this often.
const POLL = { updateIntervalInMs: 50 };
const listenerId = (name: string) => `${stack.brokerId}/listener/${name}`;
const authnId = (name: string) => `${stack.brokerId}/authentication/${name}`;
const brokerProcess = () => stack.local.driver.process(NAMESPACE, workloadName('broker'));

function connect(
  port: number,
  username: string,
  password: string,
  extra: mqtt.IClientOptions = {},
): Promise<MqttClient> {
  return mqtt
    .connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      username,
      password,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...extra,
    })
    .then((client) => (clients.push(client), client));
}

async function refusal(port: number, username: string, password: string): Promise<number | undefined> {
  try {
    (await connect(port, username, password)).end(true);
    return undefined;
  } catch (error) {
    return (error as { code?: number }).code;
  }
}

beforeAll(async () => {
  stack = await startDevStack();
  brokerPids.add(brokerProcess()!.pid!);
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  await restartedAgent?.stop();
  await stack?.stop();
  // Nothing the driver started may outlive the dev stack.
  if (stack) expect(processesUnder(stack.dir)).toEqual([]);
  for (const pid of brokerPids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
});

describe('iotmq dev end to end, through the Azure SDK', () => {
  let port: number;

  it('the default resources run on the ports given instead of 8883/1883', async () => {
    const client = await connect(stack.mqtt.ports.plain, stack.mqtt.username, stack.mqtt.password);
    await client.endAsync();
  });

  it('PUT a listener on a free port: the LRO completes Succeeded and an MQTT client connects there', async () => {
    port = await freePort();
    await stack.passwordSecret('e2e-passwords-a', { alice: 'alice-secret-a' });
    const listener = await stack.putAndWait(listenerId('e2e'), listenerProperties(port, true), POLL);
    expect(listener.properties).toMatchObject({ provisioningState: 'Succeeded', port });
    const authn = await stack.putAndWait(
      authnId('e2e-authn'),
      { listenerRef: ['e2e'], authenticationMethods: [{ usernamePassword: { secretName: 'e2e-passwords-a' } }] },
      POLL,
    );
    expect(authn.properties?.provisioningState).toBe('Succeeded');
    // Succeeded means the broker's config file is written; the broker applies it on its file watch.
    await until(
      'the password database to be enforced',
      async () => (await refusal(port, 'alice', 'wrong')) !== undefined,
      15_000,
    );
    expect([0x86, 0x87]).toContain(await refusal(port, 'alice', 'wrong'));
    const client = await connect(port, 'alice', 'alice-secret-a');
    await client.publishAsync('e2e/hello', 'world', { qos: 1 });
    await client.endAsync();
  });

  it('changing its authentication refuses the old credentials and accepts the new ones', async () => {
    await stack.passwordSecret('e2e-passwords-b', { bob: 'bob-secret-b' });
    const authn = await stack.putAndWait(
      authnId('e2e-authn'),
      { listenerRef: ['e2e'], authenticationMethods: [{ usernamePassword: { secretName: 'e2e-passwords-b' } }] },
      POLL,
    );
    expect(authn.properties?.provisioningState).toBe('Succeeded');
    await until(
      'the old credentials to be refused',
      async () => (await refusal(port, 'alice', 'alice-secret-a')) !== undefined,
      15_000,
    );
    expect([0x86, 0x87]).toContain(await refusal(port, 'alice', 'alice-secret-a'));
    expect([0x86, 0x87]).toContain(await refusal(port, 'bob', 'wrong'));
    expect(await refusal(port, 'bob', 'bob-secret-b')).toBeUndefined();
  });

  it('a change made while the agent is stopped converges once it restarts', async () => {
    await stack.local.agent.stop();
    const moved = await freePort();
    const poller = await stack.put(listenerId('e2e'), listenerProperties(moved, true), POLL);
    // Nobody carries it to the cluster: the RP accepted it and the CR still has the old port.
    await poller.poll();
    expect(poller.isDone()).toBe(false);
    expect(
      ((await stack.local.cluster.get(crType('BrokerListener'), NAMESPACE, 'e2e'))?.spec as { port: number }).port,
    ).toBe(port);

    restartedAgent = stack.startAgent();
    const result = await poller.pollUntilDone();
    expect(result.properties).toMatchObject({ provisioningState: 'Succeeded', port: moved });
    const client = await connect(moved, 'bob', 'bob-secret-b');
    await client.endAsync();
    await until('the old port to close', async () => !(await accepts(port)), 15_000);
    port = moved;
  });

  it('a killed broker process is restarted by the local driver and a client reconnects', async () => {
    const client = await connect(port, 'bob', 'bob-secret-b', { reconnectPeriod: 100 });
    const before = brokerProcess()!;
    const { pid, restarts } = { pid: before.pid!, restarts: before.restarts };
    brokerPids.add(pid);
    // Reconnect attempts while the broker is down emit 'error' (refused): expected, so not awaited with once().
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    process.kill(pid, 'SIGKILL');
    await closed;
    await new Promise<void>((resolve) => client.once('connect', () => resolve())); // MQTT.js reconnects on its own once the port is back
    const after = brokerProcess()!;
    expect(after.restarts).toBe(restarts + 1);
    expect(after.pid).not.toBe(pid);
    brokerPids.add(after.pid!);
    await client.publishAsync('e2e/after-crash', 'ok', { qos: 1 });
    await client.endAsync();
  });

  it('a listener on a port already in use fails, with PortInUse in GET and in the operation status', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const busy = (blocker.address() as net.AddressInfo).port;
      let operationUrl: string | undefined;
      const put = stack.putAndWait(
        listenerId('e2e-busy'),
        { brokerRef: 'broker', port: busy, serviceType: 'clusterIp' },
        {
          ...POLL,
          onResponse: (raw) => void (operationUrl ??= raw.headers.get('azure-asyncoperation') ?? undefined),
        },
      );
      await expect(put).rejects.toThrow(/PortInUse|in use/);
      const resource = await stack.client.resources.getById(listenerId('e2e-busy'), API_VERSION);
      expect(resource.properties?.provisioningState).toBe('Failed');
      expect(operationUrl).toBeDefined();
      const operation = await stack.getJson(operationUrl!);
      expect(operation.body).toMatchObject({ status: 'Failed', error: { code: 'PortInUse' } });
      expect(operation.body.error.message).toContain(String(busy));
      await stack.client.resources.beginDeleteByIdAndWait(listenerId('e2e-busy'), API_VERSION, POLL);
    } finally {
      blocker.close();
    }
  });

  it('DELETE the listener: the LRO completes, the port closes and GET is 404', async () => {
    await stack.client.resources.beginDeleteByIdAndWait(authnId('e2e-authn'), API_VERSION, POLL);
    await stack.client.resources.beginDeleteByIdAndWait(listenerId('e2e'), API_VERSION, POLL);
    // The driver closes a removed Service's port before the finalizers go, so no wait is needed here.
    expect(await accepts(port)).toBe(false);
    await expect(stack.client.resources.getById(listenerId('e2e'), API_VERSION)).rejects.toMatchObject({
      statusCode: 404,
    });
    // The rest of the broker keeps serving.
    const client = await connect(stack.mqtt.ports.plain, stack.mqtt.username, stack.mqtt.password);
    await client.endAsync();
  });
});
