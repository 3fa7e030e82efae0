// `$SYS/broker/...` topics, published retained every interval (as mosquitto does), so a new
// subscriber sees the current values at once.
import type { SessionBackend } from '../session/session-backend.js';
import type { Metrics } from './metrics.js';

const startedAt = Date.now();

export function startSysTopics(backend: SessionBackend, metrics: Metrics, intervalSeconds: number): { stop(): void } {
  if (intervalSeconds <= 0) return { stop() {} };
  const sum = (name: string): number => ['0', '1', '2'].reduce((n, qos) => n + metrics.get(name, { qos }), 0);
  const publish = (): void => {
    const values: Record<string, string> = {
      'clients/connected': String(backend.stats().connectedSessions),
      'clients/total': String(backend.stats().sessions),
      'messages/received': String(sum('aio_mq_publishes_received')),
      'messages/sent': String(sum('aio_mq_publishes_sent')),
      'subscriptions/count': String(backend.stats().subscriptions),
      uptime: `${Math.floor((Date.now() - startedAt) / 1000)} seconds`,
    };
    for (const [topic, value] of Object.entries(values))
      void backend.publish({
        topic: `$SYS/broker/${topic}`,
        payload: Buffer.from(value),
        qos: 0,
        retain: true,
        properties: {},
      });
  };
  publish();
  const timer = setInterval(publish, intervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
