// Restart durability: stop the broker, start a new one on the same dataDir.
import { describe, expect, it } from 'vitest';
import { collect, connectClient } from './helpers.js';
import { createConfigDir, listener, portOf, startFromConfig } from './config-fixture.js';

describe('durability', () => {
  it('a persistent session gets its queued QoS 1 messages, subscriptions and retained messages after a restart', async () => {
    const dir = createConfigDir();
    const config = dir.config({ listeners: [listener('l')] });
    const first = await startFromConfig(config);
    let url = `mqtt://127.0.0.1:${portOf(first, 'l')}`;
    for (const protocolVersion of [4, 5] as const) {
      const sub = await connectClient(url, {
        protocolVersion,
        clientId: `durable-${protocolVersion}`,
        clean: false,
        properties: protocolVersion === 5 ? { sessionExpiryInterval: 3600 } : undefined,
      });
      await sub.subscribeAsync('jobs/#', { qos: 1 });
      await sub.endAsync();
    }
    const pub = await connectClient(url, { protocolVersion: 5 });
    for (let i = 0; i < 3; i++) await pub.publishAsync(`jobs/${i}`, `job-${i}`, { qos: 1 });
    await pub.publishAsync('config/site', 'north', { qos: 1, retain: true });
    await first.close();

    const second = await startFromConfig(config);
    url = `mqtt://127.0.0.1:${portOf(second, 'l')}`;
    for (const protocolVersion of [4, 5] as const) {
      const sub = await connectClient(url, {
        protocolVersion,
        clientId: `durable-${protocolVersion}`,
        clean: false,
        properties: protocolVersion === 5 ? { sessionExpiryInterval: 3600 } : undefined,
      });
      const got = collect(sub);
      const payloads = [];
      for (let i = 0; i < 3; i++) payloads.push((await got.next()).payload.toString());
      expect(payloads).toEqual(['job-0', 'job-1', 'job-2']);
      // the subscription itself survived too
      const pub2 = await connectClient(url);
      await pub2.publishAsync('jobs/live', 'live', { qos: 1 });
      expect((await got.next()).payload.toString()).toBe('live');
    }
    const late = await connectClient(url);
    const got = collect(late);
    await late.subscribeAsync('config/+', { qos: 1 });
    expect((await got.next()).payload.toString()).toBe('north');
  });
});
