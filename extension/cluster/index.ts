export * from './types.js';
export { createLocalCluster, type LocalCluster, type LocalClusterOptions } from './local-cluster.js';
export { createEventQueue, type EventQueue } from './event-queue.js';
export { createInformer, type Informer, type InformerHandlers, type InformerOptions } from './informer.js';
export { createKeyedQueue, type KeyedQueue, type KeyedQueueOptions, type WorkOutcome } from './keyed-queue.js';
export { createBackoff, sleep, type Backoff, type BackoffOptions } from './backoff.js';
// The Kubernetes client lives in './kubernetes.js' and is imported from there on purpose: it loads
// @kubernetes/client-node, which the local cluster (`iotmq dev`) does not need.
export { createSchemaRegistry, type SchemaRegistry } from './structural-schema.js';
export { loadChartCrds } from './chart-crds.js';
