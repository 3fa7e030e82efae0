// The broker's public surface.
export { createBroker, DEFAULT_LIMITS, OPEN_SECURITY, type Broker, type BrokerOptions } from './broker.js';
export { loadConfig, validateConfig, ConfigError, type BrokerConfig } from './config.js';
export { runBroker, startBroker, startBrokerFromFile, type RunningBroker } from './main.js';
export { hashPassword } from './auth/password-db.js';
export type { SessionBackend } from './session/session-backend.js';
export type { SessionStore } from './session/session-store.js';
