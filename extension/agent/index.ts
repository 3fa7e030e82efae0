export { createAgent, type Agent, type AgentOptions } from './agent.js';
export * from './constants.js';
export { crType, crName, statusOf, toCustomResource, type Condition } from './custom-resource.js';
export type { FeedEvent, StatusReport, ArmResource } from './feed-event.js';
