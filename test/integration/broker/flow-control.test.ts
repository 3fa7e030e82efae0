// Slow consumers: a client that stops reading must not make the broker's memory grow without
// bound. Once it has held its publishers back for the grace period (flow-control-open-loop.test.ts),
// QoS 0 to it is dropped once its unsent bytes pass the limit, QoS 1 waits within its
// Receive Maximum and a bounded session queue, and a publisher that does not read its acks is
// not read either. Real sockets; progress is proven by acknowledged QoS 1 markers, not by time.
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { BrokerOptions } from '../../../extension/broker/broker.js';
import { eventually } from '../../support/eventually.js';
import { collect, connectClient, rawConnect, startTestBroker } from './helpers.js';

const LIMIT = 256 * 1024;

function startBroker(options: BrokerOptions = {}) {
  // a stalled subscriber holds its publishers back for half a second, then loses QoS 0 beyond LIMIT
  return startTestBroker(
    { ...options, limits: { outboundBufferLimit: LIMIT, slowSubscriberGraceMs: 500, ...options.limits } },
    'l',
  );
}

/** A subscriber on raw TCP that can stop reading (its socket paused, so the kernel buffers fill). */
async function stalledSubscriber(port: number, filter: string, qos: 0 | 1, receiveMaximum?: number) {
  const raw = await rawConnect(port, 5);
  raw.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: `slow-${Math.random().toString(36).slice(2)}`,
    clean: true,
    keepalive: 0,
    ...(receiveMaximum ? { properties: { receiveMaximum } } : {}),
  });
  expect(await raw.next()).toMatchObject({ cmd: 'connack', reasonCode: 0 });
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] });
  expect(await raw.next()).toMatchObject({ cmd: 'suback' });
  raw.socket.pause();
  return raw;
}

describe('flow control for slow consumers', () => {
  it('drops QoS 0 to a client that stopped reading once its unsent bytes pass the limit', async () => {
    const { broker, connections, port, url } = await startBroker();
    await stalledSubscriber(port, 'flood/#', 0);
    const fast = await connectClient(url, { protocolVersion: 5 });
    const fastGot = collect(fast);
    await fast.subscribeAsync('flood/#', { qos: 1 });
    const pub = await connectClient(url, { protocolVersion: 5 });
    const payload = Buffer.alloc(1024, 1);
    // 32 MiB: far more than the loopback socket buffers of the stalled client can take
    for (let i = 0; i < 32 * 1024; i++) pub.publish('flood/x', payload, { qos: 0 });
    // a QoS 1 marker: once acknowledged, every earlier PUBLISH from pub has been routed
    await pub.publishAsync('flood/end', 'end', { qos: 1 });

    const slow = connections[0];
    expect(broker.metrics.get('aio_mq_messages_dropped', { reason: 'slow-consumer' })).toBeGreaterThan(0);
    // bounded: the limit plus the messages of one event-loop turn at most
    expect(slow.transport.pendingBytes).toBeLessThan(LIMIT + 2 * 1024 * 1024);
    // the other subscriber is still served: the QoS 1 marker reaches it after the flood
    while ((await fastGot.next(10_000)).topic !== 'flood/end');
  }, 60_000);

  it('keeps QoS 1 for a stalled subscriber within its Receive Maximum and the session queue limit', async () => {
    const { broker, port, url } = await startBroker({ maxQueuedMessages: 100 });
    await stalledSubscriber(port, 'q1/#', 1, 10);
    const pub = await connectClient(url, { protocolVersion: 5 });
    for (let i = 0; i < 499; i++) pub.publish('q1/x', `m${i}`, { qos: 1 });
    await pub.publishAsync('q1/x', 'last', { qos: 1 });
    const stats = broker.backend.stats();
    expect(stats.inflightMessages).toBe(10);
    expect(stats.queuedMessages).toBe(100);
    expect(broker.metrics.get('aio_mq_messages_dropped', { reason: 'queue-full' })).toBe(390);
  });

  it('stops reading from a client that does not read what it is sent, and resumes once it does', async () => {
    const { connections, port } = await startBroker();
    const echo = await rawConnect(port, 4);
    echo.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'deaf', clean: true, keepalive: 0 });
    expect(await echo.next()).toMatchObject({ cmd: 'connack' });
    echo.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'echo', qos: 0 }] });
    expect(await echo.next()).toMatchObject({ cmd: 'suback' });
    echo.socket.pause(); // from now on it never reads its own deliveries
    const conn = connections[0];
    const frame = mqttPacket.generate({
      cmd: 'publish',
      topic: 'echo',
      payload: Buffer.alloc(4096),
      qos: 0,
      retain: false,
      dup: false,
    });
    const batch = Buffer.concat(Array.from({ length: 64 }, () => frame));
    let stop = false;
    const writeMore = (): void => {
      if (stop) return;
      if (echo.socket.write(batch)) setImmediate(writeMore);
      else echo.socket.once('drain', writeMore);
    };
    writeMore();
    await eventually('the broker to stop reading', () => conn.readPaused, 30_000);
    stop = true;
    expect(conn.transport.pendingBytes).toBeGreaterThan(LIMIT);
    // once it reads again, the broker's buffer drains and it reads from the client again
    echo.socket.resume();
    await eventually('the broker to read again', () => !conn.readPaused, 30_000);
    expect(conn.state).toBe('connected');
  }, 60_000);
});
