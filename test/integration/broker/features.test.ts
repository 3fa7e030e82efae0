// MQTT features end to end with real MQTT.js clients (3.1.1 and 5) over TCP.
import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { collect, connectClient, flush, rawConnect, startTestBroker } from './helpers.js';

const v5 = { protocolVersion: 5 } as const;

describe('sessions', () => {
  it('[MQTT-3.1.4-3] a second connection with the same client id takes over (DISCONNECT 0x8E)', async () => {
    const { url } = await startTestBroker();
    const first = await connectClient(url, { ...v5, clientId: 'dup' });
    const disconnected = new Promise<mqttPacket.IDisconnectPacket>((resolve) => first.once('disconnect', resolve));
    await connectClient(url, { ...v5, clientId: 'dup' });
    const packet = await disconnected;
    expect(packet.reasonCode).toBe(0x8e);
  });

  it('[MQTT-3.1.2-4] clean start discards the session; [MQTT-3.2.2-3] session present otherwise', async () => {
    const { port } = await startTestBroker();
    const connectAs = async (clean: boolean): Promise<unknown> => {
      const raw = await rawConnect(port, 5);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: 'p1',
        clean,
        keepalive: 0,
        properties: { sessionExpiryInterval: 300 },
      });
      const connack = await raw.next();
      raw.send({ cmd: 'disconnect', reasonCode: 0 });
      await raw.closed;
      return connack;
    };
    expect(await connectAs(false)).toMatchObject({ cmd: 'connack', sessionPresent: false });
    expect(await connectAs(false)).toMatchObject({ cmd: 'connack', sessionPresent: true });
    expect(await connectAs(true)).toMatchObject({ cmd: 'connack', sessionPresent: false });
  });

  it('queues QoS 1 for an offline persistent session and delivers it on reconnect (3.1.1 and 5)', async () => {
    const { url } = await startTestBroker();
    for (const protocolVersion of [4, 5] as const) {
      const clientId = `offline-${protocolVersion}`;
      const opts = {
        protocolVersion,
        clientId,
        clean: false,
        properties: protocolVersion === 5 ? { sessionExpiryInterval: 300 } : undefined,
      };
      const sub = await connectClient(url, opts);
      await sub.subscribeAsync('q/+', { qos: 1 });
      await sub.endAsync();
      const pub = await connectClient(url, { protocolVersion });
      await pub.publishAsync('q/1', 'one', { qos: 1 });
      await pub.publishAsync('q/0', 'zero', { qos: 0 }); // not queued for offline sessions
      await pub.publishAsync('q/2', 'two', { qos: 1 });
      const again = await connectClient(url, opts);
      const got = collect(again);
      expect((await got.next()).payload.toString()).toBe('one');
      expect((await got.next()).payload.toString()).toBe('two');
    }
  });

  it('[MQTT-3.1.2-23] a session with expiry 0 ends when the connection closes', async () => {
    const { url, broker } = await startTestBroker();
    const c = await connectClient(url, { ...v5, clientId: 'gone', clean: false });
    await c.subscribeAsync('x', { qos: 1 });
    await c.endAsync();
    await expect.poll(() => broker.backend.stats().sessions).toBe(0);
  });
});

describe('QoS and delivery', () => {
  it('delivers QoS 2 exactly once and completes the PUBREC/PUBREL/PUBCOMP exchange', async () => {
    const { url } = await startTestBroker();
    const sub = await connectClient(url, v5);
    const got = collect(sub);
    await sub.subscribeAsync('e/1', { qos: 2 });
    const pub = await connectClient(url, v5);
    await pub.publishAsync('e/1', 'once', { qos: 2 });
    expect((await got.next()).packet.qos).toBe(2);
    await flush(sub, got);
    expect(got.messages.filter((m) => m.topic === 'e/1')).toHaveLength(1);
  });

  it('[MQTT-3.3.4-2] overlapping subscriptions: one copy at the highest QoS with all subscription identifiers', async () => {
    const { url } = await startTestBroker();
    const sub = await connectClient(url, v5);
    const got = collect(sub);
    await sub.subscribeAsync('o/+', { qos: 0, properties: { subscriptionIdentifier: 1 } });
    await sub.subscribeAsync('o/#', { qos: 1, properties: { subscriptionIdentifier: 2 } });
    const pub = await connectClient(url, v5);
    await pub.publishAsync('o/a', 'x', { qos: 2 });
    const m = await got.next();
    expect(m.packet.qos).toBe(1);
    expect([m.packet.properties?.subscriptionIdentifier].flat().sort()).toEqual([1, 2]);
    await flush(sub, got);
    expect(got.messages.filter((x) => x.topic === 'o/a')).toHaveLength(1);
  });

  it('[MQTT-3.8.3-3] no-local does not send a client its own messages', async () => {
    const { url } = await startTestBroker();
    const c = await connectClient(url, v5);
    const got = collect(c);
    await c.subscribeAsync('nl', { qos: 0, nl: true });
    await c.publishAsync('nl', 'mine', { qos: 1 });
    await flush(c, got);
    expect(got.messages.filter((m) => m.topic === 'nl')).toHaveLength(0);
  });

  it('[MQTT-4.7.2-1] wildcards at the first level do not match $ topics', async () => {
    const { url } = await startTestBroker();
    const c = await connectClient(url, v5);
    const got = collect(c);
    await c.subscribeAsync(['#', '+/x'], { qos: 0 });
    const pub = await connectClient(url, v5);
    await pub.publishAsync('$internal/x', 'hidden', { qos: 1 });
    await pub.publishAsync('seen/x', 'shown', { qos: 1 });
    expect((await got.next()).topic).toBe('seen/x');
  });

  it('[MQTT-4.8.2-*] shared subscriptions deliver each message to one member, round-robin', async () => {
    const { url } = await startTestBroker();
    const a = await connectClient(url, { ...v5, clientId: 'share-a' });
    const b = await connectClient(url, { ...v5, clientId: 'share-b' });
    const gotA = collect(a);
    const gotB = collect(b);
    await a.subscribeAsync('$share/g/jobs/+', { qos: 1 });
    await b.subscribeAsync('$share/g/jobs/+', { qos: 1 });
    const pub = await connectClient(url, v5);
    for (let i = 0; i < 6; i++) await pub.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
    await flush(a, gotA);
    await flush(b, gotB);
    const count = (g: typeof gotA): number => g.messages.filter((m) => m.topic.startsWith('jobs/')).length;
    expect(count(gotA)).toBe(3);
    expect(count(gotB)).toBe(3);
  });

  it('passes user properties, payload format, content type, response topic and correlation data through', async () => {
    const { url } = await startTestBroker();
    const sub = await connectClient(url, v5);
    const got = collect(sub);
    await sub.subscribeAsync('props', { qos: 1 });
    const pub = await connectClient(url, v5);
    const properties = {
      userProperties: { a: '1', b: ['x', 'y'] },
      payloadFormatIndicator: true,
      contentType: 'text/plain',
      responseTopic: 'reply/here',
      correlationData: Buffer.from('corr'),
    };
    await pub.publishAsync('props', 'hello', { qos: 1, properties });
    expect((await got.next()).packet.properties).toMatchObject(properties);
  });

  it('[MQTT-3.3.2-5] expired messages are not delivered; [MQTT-3.3.2-6] the interval is decremented', async () => {
    const { url } = await startTestBroker();
    const opts = { ...v5, clientId: 'exp', clean: false, properties: { sessionExpiryInterval: 60 } };
    const sub = await connectClient(url, opts);
    await sub.subscribeAsync('exp/+', { qos: 1 });
    await sub.endAsync();
    const pub = await connectClient(url, v5);
    await pub.publishAsync('exp/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('exp/long', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await new Promise((r) => setTimeout(r, 1100)); // the clock is the subject here: no event to await
    const again = await connectClient(url, opts);
    const got = collect(again);
    const m = await got.next();
    expect(m.topic).toBe('exp/long');
    expect(m.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(99);
    await flush(again, got);
    expect(got.messages.map((x) => x.topic)).not.toContain('exp/short');
  });

  it('[MQTT-3.3.4-7] respects the client Receive Maximum (server → client flow control)', async () => {
    const { port, url } = await startTestBroker();
    const raw = await rawConnect(port, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'slow',
      clean: true,
      keepalive: 0,
      properties: { receiveMaximum: 2 },
    });
    expect(await raw.next()).toMatchObject({ cmd: 'connack' });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flow', qos: 1 }] });
    expect(await raw.next()).toMatchObject({ cmd: 'suback' });
    const pub = await connectClient(url, v5);
    for (let i = 0; i < 4; i++) await pub.publishAsync('flow', String(i), { qos: 1 });
    const p1 = (await raw.next()) as mqttPacket.IPublishPacket;
    const p2 = (await raw.next()) as mqttPacket.IPublishPacket;
    expect([p1.payload.toString(), p2.payload.toString()]).toEqual(['0', '1']);
    await expect(raw.next(300)).rejects.toThrow(/no packet/); // the third waits for an ack
    raw.send({ cmd: 'puback', messageId: p1.messageId });
    expect(((await raw.next()) as mqttPacket.IPublishPacket).payload.toString()).toBe('2');
  });

  it('[MQTT-3.1.2-25] a message larger than the client Maximum Packet Size is not sent to it', async () => {
    const { url } = await startTestBroker();
    const sub = await connectClient(url, { ...v5, properties: { maximumPacketSize: 200 } });
    const got = collect(sub);
    await sub.subscribeAsync('big/+', { qos: 1 });
    const pub = await connectClient(url, v5);
    await pub.publishAsync('big/1', Buffer.alloc(500), { qos: 1 });
    await pub.publishAsync('big/2', 'small', { qos: 1 });
    expect((await got.next()).topic).toBe('big/2');
  });

  it('topic aliases: client → server and server → client', async () => {
    const { port, url } = await startTestBroker();
    const raw = await rawConnect(port, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'alias',
      clean: true,
      keepalive: 0,
      properties: { topicAliasMaximum: 5 },
    });
    expect(await raw.next()).toMatchObject({
      cmd: 'connack',
      properties: expect.objectContaining({ topicAliasMaximum: 64 }),
    });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'al/#', qos: 0 }] });
    await raw.next();
    // client → server: set alias 3, then use it with an empty topic
    raw.send({
      cmd: 'publish',
      topic: 'al/one',
      payload: Buffer.from('1'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 3 },
    });
    raw.send({
      cmd: 'publish',
      topic: '',
      payload: Buffer.from('2'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 3 },
    });
    const first = (await raw.next()) as mqttPacket.IPublishPacket;
    const second = (await raw.next()) as mqttPacket.IPublishPacket;
    // server → client: first with topic + alias, then alias only
    expect(first).toMatchObject({ topic: 'al/one', properties: { topicAlias: 1 } });
    expect(second).toMatchObject({ topic: '', properties: { topicAlias: 1 } });
    expect(second.payload.toString()).toBe('2');
    // and MQTT.js resolves the aliases we send it
    const sub = await connectClient(url, { ...v5, properties: { topicAliasMaximum: 3 } });
    const got = collect(sub);
    await sub.subscribeAsync('al/two', { qos: 0 });
    const pub = await connectClient(url, v5);
    await pub.publishAsync('al/two', 'a', { qos: 1 });
    await pub.publishAsync('al/two', 'b', { qos: 1 });
    expect((await got.next()).topic).toBe('al/two');
    expect((await got.next()).topic).toBe('al/two');
  });
});

describe('retained messages', () => {
  it('[MQTT-3.3.1-6] are sent on subscribe with retain=1, replaced, and removed by an empty payload', async () => {
    const { url } = await startTestBroker();
    const pub = await connectClient(url, { protocolVersion: 4 });
    await pub.publishAsync('r/a', 'old', { qos: 1, retain: true });
    await pub.publishAsync('r/a', 'new', { qos: 1, retain: true });
    await pub.publishAsync('r/b', 'bee', { qos: 0, retain: true });
    const sub = await connectClient(url, { protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync('r/+', { qos: 1 });
    const msgs = [await got.next(), await got.next()].map((m) => [m.topic, m.payload.toString(), m.packet.retain]);
    expect(msgs.sort()).toEqual([
      ['r/a', 'new', true],
      ['r/b', 'bee', true],
    ]);
    await pub.publishAsync('r/a', '', { qos: 1, retain: true });
    const late = await connectClient(url, { protocolVersion: 4 });
    const lateGot = collect(late);
    await late.subscribeAsync('r/a', { qos: 1 });
    await flush(late, lateGot);
    expect(lateGot.messages.filter((m) => m.topic === 'r/a')).toHaveLength(0);
  });

  it('[MQTT-3.3.1-9..11] retain handling 0/1/2 and [MQTT-3.3.1-12] retain-as-published', async () => {
    const { url } = await startTestBroker();
    const pub = await connectClient(url, v5);
    await pub.publishAsync('rh', 'kept', { qos: 1, retain: true });
    const sub = await connectClient(url, v5);
    const got = collect(sub);
    await sub.subscribeAsync('rh', { qos: 1, rh: 2 });
    await flush(sub, got);
    expect(got.messages.filter((m) => m.topic === 'rh')).toHaveLength(0);
    await sub.subscribeAsync('rh', { qos: 1, rh: 1 }); // exists already: nothing
    await flush(sub, got);
    expect(got.messages.filter((m) => m.topic === 'rh')).toHaveLength(0);
    await sub.subscribeAsync('rh', { qos: 1, rh: 0 }); // always
    expect((await got.next()).packet.retain).toBe(true);
    // live messages: retain flag cleared unless retain-as-published
    await pub.publishAsync('rh', 'live', { qos: 1, retain: true });
    expect((await got.next()).packet.retain).toBe(false);
    await sub.subscribeAsync('rh', { qos: 1, rh: 2, rap: true });
    await pub.publishAsync('rh', 'live2', { qos: 1, retain: true });
    expect((await got.next()).packet.retain).toBe(true);
  });
});

describe('wills', () => {
  it('[MQTT-3.1.2-8] the will is published when the connection drops, not on a normal DISCONNECT', async () => {
    const { url } = await startTestBroker();
    const watcher = await connectClient(url, v5);
    const got = collect(watcher);
    await watcher.subscribeAsync('will/+', { qos: 1 });
    const polite = await connectClient(url, {
      ...v5,
      will: { topic: 'will/polite', payload: Buffer.from('bye'), qos: 1, retain: false },
    });
    await polite.endAsync();
    const rude = await connectClient(url, {
      ...v5,
      will: {
        topic: 'will/rude',
        payload: Buffer.from('dead'),
        qos: 1,
        retain: false,
        properties: { userProperties: { k: 'v' } },
      },
    });
    (rude as unknown as { stream: { destroy(): void } }).stream.destroy();
    const m = await got.next();
    expect(m.topic).toBe('will/rude');
    expect(m.packet.properties?.userProperties).toEqual({ k: 'v' });
  });

  it('[MQTT-3.1.3-9] a delayed will is not sent when the client reconnects in time, and is sent after the delay otherwise', async () => {
    const { url } = await startTestBroker();
    const watcher = await connectClient(url, v5);
    const got = collect(watcher);
    await watcher.subscribeAsync('dw/+', { qos: 1 });
    const session = { ...v5, clean: false, properties: { sessionExpiryInterval: 60 } };
    const will = (t: string) => ({
      topic: `dw/${t}`,
      payload: Buffer.from(t),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval: 1 },
    });
    const back = await connectClient(url, { ...session, clientId: 'dw-back', will: will('back') });
    (back as unknown as { stream: { destroy(): void } }).stream.destroy();
    await connectClient(url, { ...session, clientId: 'dw-back' }); // in time: no will
    const gone = await connectClient(url, { ...session, clientId: 'dw-gone', will: will('gone') });
    const started = Date.now();
    (gone as unknown as { stream: { destroy(): void } }).stream.destroy();
    const m = await got.next(4000);
    expect(m.topic).toBe('dw/gone');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await flush(watcher, got);
    expect(got.messages.map((x) => x.topic)).not.toContain('dw/back');
  });

  it('publishes the will of a connection closed by takeover', async () => {
    const { url } = await startTestBroker();
    const watcher = await connectClient(url, v5);
    const got = collect(watcher);
    await watcher.subscribeAsync('tw', { qos: 1 });
    await connectClient(url, {
      ...v5,
      clientId: 'tw',
      will: { topic: 'tw', payload: Buffer.from('taken'), qos: 1, retain: false },
    });
    await connectClient(url, { ...v5, clientId: 'tw' });
    expect((await got.next()).payload.toString()).toBe('taken');
  });
});
