// The broker's metric families, declared once so /metrics lists them even before first use.
import type { SessionBackend } from '../session/session-backend.js';
import type { Counter, Metrics } from './metrics.js';

/** The counters bumped for every message, resolved once per broker. */
export interface MessageCounters {
  /** By QoS. */
  publishesReceived: readonly Counter[];
  payloadBytesReceived: Counter;
  /** By QoS. */
  publishesSent: readonly Counter[];
  payloadBytesSent: Counter;
  publishAllowed: Counter;
  /** A QoS 0 message dropped for a stuck subscriber (both its families). */
  slowConsumerDropped: Counter;
}

export function messageCounters(metrics: Metrics): MessageCounters {
  const byQos = (name: string): Counter[] => ['0', '1', '2'].map((qos) => metrics.counter(name, { qos }));
  return {
    publishesReceived: byQos('aio_mq_publishes_received'),
    payloadBytesReceived: metrics.counter('aio_mq_payload_bytes_received'),
    publishesSent: byQos('aio_mq_publishes_sent'),
    payloadBytesSent: metrics.counter('aio_mq_payload_bytes_sent'),
    publishAllowed: metrics.counter('aio_mq_authorization_allow', { method: 'Publish' }),
    slowConsumerDropped: both(
      metrics.counter('aio_mq_qos0_messages_dropped'),
      metrics.counter('aio_mq_messages_dropped', { reason: 'slow-consumer' }),
    ),
  };
}

function both(a: Counter, b: Counter): Counter {
  return { inc: (by) => (a.inc(by), b.inc(by)) };
}

export function defineBrokerMetrics(metrics: Metrics, backend: SessionBackend, connections: () => number): void {
  const counter = (name: string, help: string): void => metrics.define(name, 'counter', help);
  const gauge = (name: string, help: string, read: () => number): void =>
    metrics.define(name, 'gauge', help, () => [{ value: read() }]);
  counter('aio_mq_publishes_received', 'PUBLISH packets received from clients, by QoS');
  counter('aio_mq_publishes_sent', 'PUBLISH packets sent to clients, by QoS');
  counter('aio_mq_payload_bytes_received', 'Application payload bytes received');
  counter('aio_mq_payload_bytes_sent', 'Application payload bytes sent');
  counter('aio_mq_authentication_successes', 'Successful authentications, by listener');
  counter('aio_mq_authentication_failures', 'Failed authentications, by listener');
  counter('aio_mq_authorization_allow', 'Authorization decisions that allowed, by method');
  counter('aio_mq_authorization_deny', 'Authorization decisions that denied, by method');
  counter('aio_mq_connections_accepted', 'CONNECTs accepted, by listener');
  counter('aio_mq_connections_refused', 'CONNECTs refused, by reason code');
  counter('aio_mq_messages_dropped', 'Messages dropped, by reason');
  counter(
    'aio_mq_qos0_messages_dropped',
    'QoS 0 messages dropped for subscribers stuck beyond their queue limit (also in aio_mq_messages_dropped)',
  );
  gauge('aio_mq_connections', 'Open network connections', connections);
  gauge('aio_mq_connected_sessions', 'Sessions with a live connection', () => backend.stats().connectedSessions);
  gauge('aio_mq_total_sessions', 'Sessions, connected or not', () => backend.stats().sessions);
  gauge('aio_mq_total_subscriptions', 'Subscriptions', () => backend.stats().subscriptions);
  gauge('aio_mq_store_retained_messages', 'Retained messages', () => backend.stats().retainedMessages);
  gauge(
    'aio_mq_queued_messages',
    'QoS 1/2 messages queued for sessions (queue depth)',
    () => backend.stats().queuedMessages,
  );
  gauge(
    'aio_mq_inflight_messages',
    'QoS 1/2 messages sent and not yet acknowledged',
    () => backend.stats().inflightMessages,
  );
}
