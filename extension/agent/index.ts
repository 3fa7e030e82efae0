export { createAgent, type Agent, type AgentOptions } from './agent.js';
export * from './constants.js';
export { crType, crName, statusOf, toCustomResource } from './custom-resource.js';
