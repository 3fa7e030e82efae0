// Prometheus /metrics and $SYS topics.
import { describe, expect, it } from 'vitest';
import { collect, connectClient, startTestBroker } from './helpers.js';
import { createConfigDir, listener, portOf, startFromConfig } from './config-fixture.js';

describe('observability', () => {
  it('serves Prometheus text on /metrics: connections, messages by QoS, auth failures, queue depth', async () => {
    const dir = createConfigDir();
    const running = await startFromConfig(dir.config({ listeners: [listener('l')], metricsPort: 0 }));
    const url = `mqtt://127.0.0.1:${portOf(running, 'l')}`;
    const offline = await connectClient(url, { clientId: 'offline', clean: false, protocolVersion: 4 });
    await offline.subscribeAsync('m/#', { qos: 1 });
    await offline.endAsync();
    const pub = await connectClient(url, { protocolVersion: 5 });
    await pub.publishAsync('m/1', 'x', { qos: 1 });
    await pub.publishAsync('m/0', 'y', { qos: 0 });
    await pub.publishAsync('m/2', 'z', { qos: 2 });
    const res = await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE aio_mq_publishes_received counter');
    expect(text).toMatch(/^aio_mq_publishes_received\{qos="1"\} 1$/m);
    expect(text).toMatch(/^aio_mq_publishes_received\{qos="0"\} 1$/m);
    expect(text).toMatch(/^aio_mq_publishes_received\{qos="2"\} 1$/m);
    expect(text).toMatch(/^aio_mq_connections 1$/m);
    expect(text).toMatch(/^aio_mq_queued_messages 2$/m); // QoS 1 and 2 queued for 'offline'
    expect(text).toMatch(/^aio_mq_authentication_failures 0$/m);
    expect(text).toMatch(/^aio_mq_total_sessions 2$/m);
    expect((await fetch(`http://127.0.0.1:${running.metricsPort}/other`)).status).toBe(404);
  });

  it('publishes $SYS/broker/... topics (retained, periodically)', async () => {
    const { url } = await startTestBroker({ sysInterval: 1 });
    const c = await connectClient(url, { protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync('$SYS/broker/#', { qos: 0 });
    const seen = new Map<string, string>();
    while (!(seen.has('$SYS/broker/uptime') && seen.get('$SYS/broker/clients/connected') === '1')) {
      const m = await got.next(3000);
      seen.set(m.topic, m.payload.toString());
    }
    expect(seen.get('$SYS/broker/uptime')).toMatch(/^\d+ seconds$/);
    expect(seen.get('$SYS/broker/messages/received')).toMatch(/^\d+$/);
    expect(seen.get('$SYS/broker/messages/sent')).toMatch(/^\d+$/);
  });
});
