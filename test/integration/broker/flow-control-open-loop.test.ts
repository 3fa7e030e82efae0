// Backpressure under an open-loop fan-in: four publishers write as fast as TCP takes their bytes,
// one subscriber reads as fast as it can. A broker that keeps reading publishers at full speed
// has to drop what the subscriber cannot take yet; iotmq instead stops reading the publishers
// whose messages go to a subscriber with too much unsent output, until it catches up. Only a
// subscriber that stays behind for the grace period loses messages (counted), and then it no
// longer holds anybody back. Real sockets; the clients run in a process of their own (raw
// writers: MQTT.js itself is slower than the broker).
import { describe, expect, it } from 'vitest';
import type { BrokerOptions } from '../../../extension/broker/broker.js';
import { floodInChildProcess, rawMqtt, rawSubscribe } from '../../support/mqtt-flood.js';
import { eventually } from '../../support/eventually.js';
import { startTestBroker } from './helpers.js';

const PUBLISHERS = 4;
const MESSAGES = 20_000;

function startBroker(options: BrokerOptions = {}) {
  return startTestBroker(options, 'flood');
}

describe('open-loop fan-in', () => {
  it('delivers at least 99% of QoS 0 to a subscriber that keeps reading, and drops nothing', async () => {
    const { broker, port } = await startBroker();
    const r = await floodInChildProcess({ port, qos: 0, publishers: PUBLISHERS, messages: MESSAGES });
    expect(r.sent).toBe(PUBLISHERS * MESSAGES);
    expect(r.delivered / r.sent).toBeGreaterThanOrEqual(0.99);
    expect(broker.metrics.get('aio_mq_qos0_messages_dropped')).toBe(0);
    expect(broker.metrics.get('aio_mq_messages_dropped', { reason: 'slow-consumer' })).toBe(0);
  }, 120_000);

  it('delivers every QoS 1 message with 64 unacknowledged per publisher', async () => {
    const { broker, port } = await startBroker();
    const r = await floodInChildProcess({ port, qos: 1, publishers: PUBLISHERS, messages: MESSAGES, inflight: 64 });
    expect(r.sent).toBe(PUBLISHERS * MESSAGES);
    expect(r.delivered).toBe(r.sent);
    // the last PUBACKs may still be on their way when the subscriber has seen the last message
    await eventually('every delivery acknowledged', () => broker.backend.stats().inflightMessages === 0);
    expect(broker.backend.stats().queuedMessages).toBe(0);
  }, 120_000);

  it('QoS 1 to a subscriber with a small Receive Maximum: publishers wait instead of its queue overflowing', async () => {
    // 80,000 messages through a session queue of 10,000: all of them arrive only if the broker
    // stops reading the publishers while the queue is long, rather than acknowledging and queueing
    const { broker, port } = await startBroker({ maxQueuedMessages: 10_000 });
    const r = await floodInChildProcess({
      port,
      qos: 1,
      publishers: PUBLISHERS,
      messages: MESSAGES,
      inflight: 64,
      subscriberReceiveMaximum: 20,
    });
    expect(broker.metrics.get('aio_mq_messages_dropped', { reason: 'queue-full' })).toBe(0);
    expect(r.delivered).toBe(r.sent);
  }, 120_000);

  it('a subscriber that never reads loses QoS 0 (counted) after the grace period; the others keep flowing', async () => {
    const limit = 256 * 1024;
    const { broker, connections, port } = await startBroker({
      limits: { outboundHighWater: 64 * 1024, outboundBufferLimit: limit, slowSubscriberGraceMs: 300 },
    });
    const stuck = await rawMqtt(port, '127.0.0.1', 'stuck');
    await rawSubscribe(stuck, 'bench/#', 0, () => {});
    stuck.socket.pause(); // never reads again: the kernel buffers fill, then the broker's
    const stuckConn = connections.find((c) => c.clientId === 'stuck')!;

    // 40 MB, far more than the kernel's socket buffers of the stuck client take. The publishers
    // may be done writing while the broker still holds them for the grace period: the flood must
    // not take that quiet for the end.
    const r = await floodInChildProcess({
      port,
      qos: 0,
      publishers: PUBLISHERS,
      messages: MESSAGES,
      payloadBytes: 512,
      idleMs: 5000,
    });
    expect(r.delivered / r.sent).toBeGreaterThanOrEqual(0.99);
    const dropped = broker.metrics.get('aio_mq_qos0_messages_dropped');
    expect(dropped).toBeGreaterThan(0);
    expect(broker.metrics.get('aio_mq_messages_dropped', { reason: 'slow-consumer' })).toBe(dropped);
    // what it holds for the stuck subscriber stays bounded: its limit plus one turn's reads
    expect(stuckConn.transport.pendingBytes).toBeLessThan(limit + 2 * 1024 * 1024);
    expect(stuckConn.state).toBe('connected');
    expect(broker.metrics.render()).toMatch(/^aio_mq_qos0_messages_dropped [1-9]\d*$/m);
  }, 120_000);
});
