export * from './types.js';
export { createLocalCluster, type LocalCluster, type LocalClusterOptions } from './local-cluster.js';
export { createEventQueue, type EventQueue } from './event-queue.js';
export { createInformer, type Informer, type InformerHandlers, type InformerOptions } from './informer.js';
export { createKeyedQueue, type KeyedQueue, type KeyedQueueOptions, type WorkOutcome } from './keyed-queue.js';
export { createBackoff, sleep, type Backoff, type BackoffOptions } from './backoff.js';
