/**
 * The one catalogue of errors the control plane answers with. Each entry has a stable ARM error
 * code, the HTTP status and a message template; `apiError(name, params)` builds the error, and the
 * HTTP layer renders it as ARM's envelope `{ error: { code, message, target?, details? } }`.
 */
export const ERRORS = {
  MissingApiVersionParameter: [400, 'The api-version query parameter (?api-version=) is required for all requests.'],
  InvalidApiVersionParameter: [
    400,
    "The api-version '{version}' is invalid. The supported versions are '{supported}'.",
  ],
  InvalidResourceType: [
    400,
    "The resource type '{type}' could not be found in the namespace '{namespace}' for api version '{version}'.",
  ],
  InvalidResourceName: [400, "The resource name '{name}' is invalid. It must match the pattern {pattern}."],
  InvalidSubscriptionId: [400, "The provided subscription identifier '{subscriptionId}' is malformed or invalid."],
  InvalidRequestContent: [400, 'The request content was invalid and could not be deserialized: {reason}'],
  InvalidRequestUri: [400, "The request URI '{uri}' is invalid: {reason}"],
  InvalidQueryParameter: [400, "The query parameter '{name}' {reason}"],
  MalformedHttpRequest: [400, 'The request could not be read as HTTP/1.1 ({reason}); check how the client builds it.'],
  RequestHeadersTooLarge: [431, 'The request headers are larger than the server accepts.'],
  RequestTimeout: [408, 'The request did not arrive in time.'],
  RequestTooLarge: [413, 'The request content is larger than the limit of {limit} bytes.'],
  UnsupportedMediaType: [
    415,
    "The content media type '{type}' is not supported. Only 'application/json' is supported.",
  ],
  BadRequest: [400, '{message}'],
  InvalidRequestProperties: [400, 'The request body has {count} invalid propert{plural}: {summary}'],
  LocationRequired: [400, 'The location property is required for this definition.'],
  InvalidResourceLocation: [
    409,
    "The resource '{name}' already exists in location '{existing}'. A resource with the same name cannot be created in location '{requested}'.",
  ],
  InvalidExtendedLocation: [400, '{message}'],
  LocationNotAvailableForResourceType: [
    400,
    "The provided location '{location}' is not available for resource type '{type}'. List of available regions for the resource type is '{available}'.",
  ],
  PropertyChangeNotAllowed: [400, "Changing property '{property}' is not allowed."],
  ResourceNotFound: [404, "The Resource '{type}/{name}' under resource group '{resourceGroup}' was not found."],
  ParentResourceNotFound: [
    404,
    "Can not perform requested operation on nested resource. Parent resource '{parent}' not found.",
  ],
  OperationNotFound: [404, "The operation '{operationId}' was not found."],
  SubscriptionNotFound: [404, "The subscription '{subscriptionId}' could not be found."],
  SubscriptionNotRegistered: [
    409,
    "The subscription '{subscriptionId}' is in state '{state}', which does not allow this request.",
  ],
  MissingSubscriptionRegistration: [409, "The subscription is not registered to use namespace '{namespace}'."],
  Conflict: [409, "Another operation is in progress on '{id}': {reason}"],
  PreconditionFailed: [412, "The condition specified using HTTP conditional header(s) is not met for '{id}'."],
  AuthenticationFailed: [401, 'Authentication failed. {reason}'],
  InvalidAuthenticationToken: [401, 'The access token is invalid. {reason}'],
  ExpiredAuthenticationToken: [401, 'The access token expiry UTC time is earlier than current UTC time.'],
  InvalidAuthenticationTokenAudience: [
    401,
    "The access token has been obtained for wrong audience or resource '{audience}'.",
  ],
  AuthorizationFailed: [403, '{reason}'],
  LinkedAuthorizationFailed: [
    403,
    "The client '{client}' may not use the linked resource '{linked}' ({action}): it does not exist or belongs to a subscription the client has no access to.",
  ],
  ClusterNotConnected: [
    409,
    "No agent of custom location '{customLocation}' reported within {seconds} seconds: the cluster is not connected.",
  ],
  Gone: [410, 'Revision {since} is no longer available (oldest retained: {oldest}); relist and watch again.'],
  // Raised by the local ARM front door (src/arm) before a request reaches an RP [ERR-2].
  InvalidAuthenticationTokenTenant: [
    401,
    "The access token is from the wrong issuer '{issuer}'. It must match the tenant '{tenant}' associated with this subscription.",
  ],
  ResourceGroupNotFound: [404, "Resource group '{resourceGroup}' could not be found."],
  ResourceGroupBeingDeleted: [
    409,
    "The resource group '{resourceGroup}' is in deprovisioning state and cannot perform this operation.",
  ],
  InvalidResourceGroupName: [
    400,
    "The resource group name '{name}' is invalid. It must be 1-90 characters of letters, digits, '-', '_', '.', '(' or ')' and must not end in '.'.",
  ],
  InvalidResourceNamespace: [400, "The resource namespace '{namespace}' is invalid."],
  NoRegisteredProviderFound: [
    400,
    "No registered resource provider found for location '{location}' and API version '{version}' for type '{type}'. The supported api-versions are '{supported}'.",
  ],
  DeploymentNotFound: [404, "Deployment '{name}' could not be found."],
  DeploymentActive: [409, "The deployment '{name}' is already in progress. Wait for it to finish, or cancel it."],
  DeploymentBeingDeleted: [409, "The deployment '{name}' is being deleted. Wait for the deletion to finish."],
  InvalidDeploymentName: [
    400,
    "The deployment name '{name}' is invalid. It must be 1-64 characters of letters, digits, '-', '_', '.', '(' or ')'.",
  ],
  InvalidTemplate: [400, "Deployment template validation failed: '{message}'."],
  InvalidTemplateDeployment: [
    400,
    "The template deployment '{name}' is not valid according to the validation procedure. The tracking id is '{trackingId}'. See inner errors for details.",
  ],
  DeploymentFailed: [
    400,
    'At least one resource deployment operation failed. Please list deployment operations for details.',
  ],
  ResourceDeploymentFailure: [
    400,
    "The resource write operation failed to complete successfully, because it reached terminal provisioning state '{state}'.",
  ],
  GatewayTimeout: [504, "The gateway did not receive a response from '{namespace}' within the specified time period."],
  NotFound: [404, "No route matches '{method} {path}'."],
  MethodNotAllowed: [405, "The method '{method}' is not supported on '{path}'."],
  InternalServerError: [500, 'The server encountered an internal error. Correlation id: {correlationId}.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorName = keyof typeof ERRORS;

/** One failure in ARM's error shape; `details` for several offending properties. */
export interface ErrorBody {
  code: string;
  message: string;
  target?: string;
  details?: ErrorBody[];
  additionalInfo?: { type: string; info: Record<string, unknown> }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly target?: string;
  readonly details?: ErrorBody[];
  readonly additionalInfo?: ErrorBody['additionalInfo'];
  /** Extra response headers, e.g. WWW-Authenticate on 401. */
  readonly headers: Record<string, string>;

  constructor(status: number, body: ErrorBody, options: { cause?: unknown; headers?: Record<string, string> } = {}) {
    super(body.message, { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.target = body.target;
    this.details = body.details;
    this.additionalInfo = body.additionalInfo;
    this.headers = options.headers ?? {};
  }

  toBody(): { error: ErrorBody } {
    const error: ErrorBody = { code: this.code, message: this.message };
    if (this.target !== undefined) error.target = this.target;
    if (this.details?.length) error.details = this.details;
    if (this.additionalInfo?.length) error.additionalInfo = this.additionalInfo;
    return { error };
  }
}

/** Builds a catalogued error: `apiError('ResourceNotFound', { type, name, resourceGroup })`. */
export function apiError(
  name: ErrorName,
  params: Record<string, string | number> = {},
  extra: {
    target?: string;
    details?: ErrorBody[];
    additionalInfo?: ErrorBody['additionalInfo'];
    cause?: unknown;
    headers?: Record<string, string>;
  } = {},
): ApiError {
  const [status, template] = ERRORS[name];
  const message = template.replace(/\{(\w+)\}/g, (_, key: string) => String(params[key] ?? `{${key}}`));
  return new ApiError(
    status,
    { code: name, message, target: extra.target, details: extra.details, additionalInfo: extra.additionalInfo },
    extra,
  );
}
