export { AAD_ERRORS, AadError, aadError } from './aad-errors.js';
export { loadOrCreateSigningKey, type SigningKey } from './keys.js';
export { registerIdentityRoutes } from './routes.js';
export { generateClientSecret, hashSecret, verifySecret } from './secrets.js';
export {
  ADFS_TENANT,
  createIdentityService,
  type IdentityService,
  type IdentityServiceOptions,
  type IssuedToken,
  type TokenVersion,
} from './service.js';
