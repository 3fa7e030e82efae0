// The agent protocol: the contract between the RP (src/rp/agent-api.ts) and the extension agent
// (extension/agent/rp-client.ts). The agent holds a list+watch feed of the resources bound to its
// cluster's custom locations (NDJSON, one FeedEvent a line) and posts what the cluster did back as
// status reports. Paths, messages and their schemas are declared here once; both ends check what
// they receive against the same schemas.
import { defineContract } from './contract-compile.js';
import type { JsonSchema } from './openapi.js';
import type { components } from './types.generated.js';

/** Root of the agent-facing API (the front door forwards everything under it to the RP). */
export const AGENT_API_ROOT = '/agent/v1';
/** Prefix of a cluster's routes; `{clusterId}` is the URL-encoded connected-cluster id. */
export const AGENT_API_PREFIX = `${AGENT_API_ROOT}/clusters`;

/** `GET …?since=REV&watch=1`: the feed (a relist without `since`). */
export const agentFeedPath = (clusterId: string) => `${AGENT_API_PREFIX}/${encodeURIComponent(clusterId)}/resources`;
/** `POST { reports: StatusReport[] }` → `{ results: StatusResult[] }`. */
export const agentStatusPath = (clusterId: string) => `${AGENT_API_PREFIX}/${encodeURIComponent(clusterId)}/status`;
/** The same two paths as fastify routes. */
export const AGENT_FEED_ROUTE = `${AGENT_API_PREFIX}/:clusterId/resources`;
export const AGENT_STATUS_ROUTE = `${AGENT_API_PREFIX}/:clusterId/status`;

type ProvisioningState = components['schemas']['ProvisioningState'];

/** A resource of the provider as the RP stores it (any of its types; `properties` per the spec). */
export interface ArmResource {
  id?: string;
  name?: string;
  type?: string;
  properties?: Record<string, unknown> & { provisioningState?: ProvisioningState };
  [key: string]: unknown;
}

/** One line of the feed. During a relist an upsert carries its row's revision, not a feed position. */
export type FeedEvent =
  | { type: 'upsert'; revision: number; id: string; etag: string; resource: ArmResource }
  | { type: 'delete'; revision: number; id: string }
  | { type: 'bookmark'; revision: number };

/** Non-terminal values show progress on GET; `Deleted` means the cluster has removed the resource. */
export const REPORTED_STATUSES = ['Provisioning', 'Updating', 'Succeeded', 'Failed', 'Deleted'] as const;
export type ReportedStatus = (typeof REPORTED_STATUSES)[number];

/**
 * A cluster's word on one resource. `etag` is the ETag of the desired state the agent applied: a
 * report for an older ETag can never complete a newer operation.
 */
export interface StatusReport {
  resourceId: string;
  etag: string;
  status: ReportedStatus;
  error?: { code: string; message: string };
}

/**
 * `pending`: a `Deleted` report for a resource whose children are still being deleted; the agent
 * sends it again later. `stale`: the report is for an older ETag (or a state already left).
 */
export type ReportOutcome = 'applied' | 'stale' | 'pending';

export interface StatusResult {
  resourceId: string;
  outcome: ReportOutcome;
}

const revision = { type: 'integer', minimum: 0 };
const text = { type: 'string', minLength: 1 };

const feedEventSchema: JsonSchema = {
  oneOf: [
    {
      type: 'object',
      required: ['type', 'revision', 'id', 'etag', 'resource'],
      properties: {
        type: { const: 'upsert' },
        revision,
        id: text,
        etag: text,
        resource: { type: 'object', properties: { properties: { type: 'object' } } },
      },
    },
    {
      type: 'object',
      required: ['type', 'revision', 'id'],
      properties: { type: { const: 'delete' }, revision, id: text },
    },
    { type: 'object', required: ['type', 'revision'], properties: { type: { const: 'bookmark' }, revision } },
  ],
};

const statusReportSchema: JsonSchema = {
  type: 'object',
  required: ['resourceId', 'etag', 'status'],
  properties: {
    resourceId: text,
    etag: text,
    status: { type: 'string', enum: [...REPORTED_STATUSES] },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

export const feedEventContract = defineContract<FeedEvent>('agent feed event', () => feedEventSchema);

/** The body of a status POST: `{ reports: [...] }`. */
export const statusReportsContract = defineContract<{ reports: StatusReport[] }>('agent status reports', () => ({
  type: 'object',
  required: ['reports'],
  properties: { reports: { type: 'array', items: statusReportSchema } },
}));

export const statusResultsContract = defineContract<{ results: StatusResult[] }>('agent status results', () => ({
  type: 'object',
  required: ['results'],
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        required: ['resourceId', 'outcome'],
        properties: { resourceId: text, outcome: { type: 'string', enum: ['applied', 'stale', 'pending'] } },
      },
    },
  },
}));
