// Operator + local driver + the real broker: CRs applied to the local cluster API (as kubectl or
// the agent would) become `iotmq broker` processes whose ports an MQTT.js client connects to;
// invalid combinations get clear Ready=False conditions; a killed broker is restarted.
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalCluster, type KubeObject, type LocalCluster } from '../../../extension/cluster/index.js';
import {
  createLocalDriver,
  createOperator,
  workloadName,
  type LocalDriver,
  type Operator,
} from '../../../extension/operator/index.js';
import type { Condition } from '../../../src/api/conditions.js';
import { eventually } from '../../support/eventually.js';
import { accepts, freePort } from '../../support/ports.js';

const NS = 'azure-iot-operations';
const API_VERSION = 'mq.iotoperations.azure.com/v1beta1';
let dir: string;
let cluster: LocalCluster;
let driver: LocalDriver;
let operator: Operator;

const apply = (kind: string, name: string, spec: Record<string, unknown>) =>
  cluster.apply({ apiVersion: API_VERSION, kind, metadata: { name, namespace: NS }, spec } as KubeObject, {
    fieldManager: 'kubectl',
  });
const ready = (kind: string, name: string, status: 'True' | 'False' = 'True') =>
  eventually(
    `${kind}/${name} Ready=${status}`,
    async () => {
      const cr = await cluster.get({ apiVersion: API_VERSION, kind }, NS, name);
      const condition = ((cr?.status?.conditions ?? []) as Condition[]).find((c) => c.type === 'Ready');
      return condition?.status === status && condition.observedGeneration === cr?.metadata.generation
        ? condition
        : undefined;
    },
    30_000,
  );

async function connect(port: number): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5_000 });
  const got = new Promise<string>((resolve) => client.on('message', (_topic, payload) => resolve(payload.toString())));
  await client.subscribeAsync('t/1');
  await client.publishAsync('t/1', 'hello');
  expect(await got).toBe('hello');
  await client.endAsync();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-operator-'));
  cluster = createLocalCluster();
  driver = createLocalDriver({ dir, cluster });
  operator = createOperator({ cluster, driver, namespace: NS, resyncMs: 200 });
  await operator.ready;
  // The images are required by the Broker CRD (the local driver runs this package whatever they say).
  const image = { repository: 'ghcr.io/iotmq/iotmq', tag: 'test' };
  await apply('Broker', 'broker', {
    mode: 'auto',
    memoryProfile: 'low',
    authImage: image,
    brokerImage: image,
    healthManagerImage: image,
  });
  await ready('Broker', 'broker');
});

afterAll(async () => {
  await operator?.stop();
  await driver?.stop();
  cluster?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('operator with the local driver', () => {
  let port: number;

  it('a listener becomes a broker process on its port; MQTT.js publishes and subscribes', async () => {
    port = await freePort();
    await apply('BrokerListener', 'plain', {
      brokerRef: 'broker',
      port,
      serviceType: 'clusterIp',
      authenticationEnabled: false,
    });
    const condition = await ready('BrokerListener', 'plain');
    expect(condition.reason).toBe('Ready');
    await connect(port);
    const cr = await cluster.get({ apiVersion: API_VERSION, kind: 'BrokerListener' }, NS, 'plain');
    expect(cr?.metadata.finalizers).toContain('iotmq.azure.com/operator');
    // the process got its container's environment, as from kubelet: the broker's NODE_OPTIONS
    const environ = readFileSync(`/proc/${driver.process(NS, workloadName('broker'))!.pid}/environ`, 'utf8');
    expect(environ.split('\0')).toContain('NODE_OPTIONS=--max-semi-space-size=4');
    // its log and data are the owner's only, whatever the umask of the test process
    const log = path.join(dir, 'logs', `${NS}-${workloadName('broker')}.log`);
    expect((statSync(log).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(path.join(dir, 'logs')).mode & 0o777).toString(8)).toBe('700');
  });

  it('flags a listener without broker, a port conflict, a missing TLS secret and a port in use', async () => {
    await apply('BrokerListener', 'orphan', { brokerRef: 'nope', port: await freePort() });
    expect((await ready('BrokerListener', 'orphan', 'False')).reason).toBe('BrokerNotFound');
    await apply('BrokerListener', 'twin', { brokerRef: 'broker', port });
    expect((await ready('BrokerListener', 'twin', 'False')).reason).toBe('PortConflict');
    await apply('BrokerListener', 'manual', {
      brokerRef: 'broker',
      port: await freePort(),
      tls: { manual: { secretName: 'absent' } },
    });
    const missing = await ready('BrokerListener', 'manual', 'False');
    expect(missing).toMatchObject({ reason: 'SecretNotFound', severity: 'Error' });
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      await apply('BrokerListener', 'busy', { brokerRef: 'broker', port: (blocker.address() as net.AddressInfo).port });
      expect((await ready('BrokerListener', 'busy', 'False')).reason).toBe('PortInUse');
    } finally {
      blocker.close();
    }
    await connect(port); // the valid listener is unaffected
  });

  it('a killed broker process is restarted and the port serves again', async () => {
    const supervisor = driver.process(NS, workloadName('broker'))!;
    const pid = supervisor.pid!;
    process.kill(pid, 'SIGKILL');
    await eventually(
      'restarted',
      async () => supervisor.pid !== undefined && supervisor.pid !== pid && supervisor.restarts >= 1,
      20_000,
    );
    await eventually(
      'port back',
      async () => {
        await connect(port);
        return true;
      },
      20_000,
    );
  });

  it('deleting a listener hands its port to the one that conflicted; deleting that one closes the port', async () => {
    const listener = { apiVersion: API_VERSION, kind: 'BrokerListener' };
    await cluster.delete(listener, NS, 'plain');
    await eventually('CR gone', async () => (await cluster.get(listener, NS, 'plain')) === undefined);
    await ready('BrokerListener', 'twin');
    await connect(port);
    await cluster.delete(listener, NS, 'twin');
    await eventually('twin gone', async () => (await cluster.get(listener, NS, 'twin')) === undefined);
    await eventually('port closed', async () => !(await accepts(port)));
  });
});
