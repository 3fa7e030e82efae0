import { randomUUID } from 'node:crypto';

/**
 * Azure AD's OAuth error shape [AAD-2]: what MSAL and @azure/identity parse. Codes are the AADSTS
 * numbers real AAD uses for the same failures, so messages people search for still match.
 */
export const AAD_ERRORS = {
  // One answer for a wrong secret and an unknown client: which client ids exist is not told [issue 11 item 5].
  invalidSecret: [
    401,
    'invalid_client',
    7000215,
    'Invalid client credentials: the client secret is wrong or the application does not exist in this directory. Ensure the secret being sent is the client secret value, not the client secret ID, and the client id is right.',
  ],
  throttled: [
    429,
    'temporarily_unavailable',
    90055,
    'Too many client credential checks are waiting; retry after the time in the Retry-After header.',
  ],
  missingCredential: [
    401,
    'invalid_client',
    7000216,
    "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
  ],
  unknownTenant: [400, 'invalid_tenant', 90002, "Tenant '{tenant}' not found."],
  unsupportedGrant: [
    400,
    'unsupported_grant_type',
    70003,
    "The app requested an unsupported grant type '{grantType}'.",
  ],
  invalidScope: [
    400,
    'invalid_scope',
    1002012,
    "The provided value for scope '{scope}' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
  ],
  invalidResource: [
    400,
    'invalid_resource',
    500011,
    "The resource principal named '{resource}' was not found in the tenant '{tenant}'.",
  ],
  missingParameter: [
    400,
    'invalid_request',
    900144,
    "The request body must contain the following parameter: '{name}'.",
  ],
} as const satisfies Record<string, readonly [number, string, number, string]>;

export type AadErrorName = keyof typeof AAD_ERRORS;

export class AadError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    /** Seconds a throttled client should wait (the Retry-After header). */
    readonly retryAfterSeconds?: number,
  ) {
    super(String(body.error_description));
  }
}

export function aadError(
  name: AadErrorName,
  params: Record<string, string> = {},
  extra: { retryAfterSeconds?: number } = {},
): AadError {
  const [status, error, code, template] = AAD_ERRORS[name];
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const text = template.replace(/\{(\w+)\}/g, (_, k: string) => params[k] ?? '');
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return new AadError(
    status,
    {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: undefined,
    },
    extra.retryAfterSeconds,
  );
}
