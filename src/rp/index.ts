export { buildRp, BODY_LIMIT_BYTES, type RpOptions } from './app.js';
export { AGENT_API_PREFIX, type FeedEvent } from '../api/agent-protocol.js';
export { createTokenVerifier, type Caller, type TokenVerifier, type TokenVerifierOptions } from './auth.js';
export type { StatusReport } from './cluster-sync.js';
export { createFixedCustomLocations, type CustomLocation, type CustomLocationDirectory } from './custom-locations.js';
