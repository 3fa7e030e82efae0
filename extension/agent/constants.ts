// Names the agent writes onto custom resources; the operator and tests read the same constants.

export const AGENT_FIELD_MANAGER = 'iotmq-agent';
export const AGENT_FINALIZER = 'iotmq.azure.com/agent';
/** The ARM id of the resource a custom resource stands for: only CRs with it are the agent's. */
export const RESOURCE_ID_ANNOTATION = 'management.azure.com/resourceId';
/** The ARM ETag of the desired state applied; status reports carry it back. */
export const ETAG_ANNOTATION = 'iotmq.azure.com/etag';
export const PROVIDER_LABEL = 'management.azure.com/provider-name';
export const PROVIDER_LABEL_VALUE = 'microsoft.iotoperationsmq';
/** Scope of the agent's token: the RP sits behind ARM and accepts ARM's audience. */
export const DEFAULT_TOKEN_SCOPE = 'https://management.azure.com/.default';
