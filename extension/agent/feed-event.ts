// The RP's agent feed, line by line (mirrors src/rp/agent-api.ts, the other end of the wire).

export type FeedEvent =
  | { type: 'upsert'; revision: number; id: string; etag: string; resource: ArmResource }
  | { type: 'delete'; revision: number; id: string }
  | { type: 'bookmark'; revision: number };

export interface ArmResource {
  id?: string;
  name?: string;
  type?: string;
  properties?: Record<string, unknown> & { provisioningState?: string };
  [key: string]: unknown;
}

export type ReportedStatus = 'Provisioning' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleted';

export interface StatusReport {
  resourceId: string;
  etag: string;
  status: ReportedStatus;
  error?: { code: string; message: string };
}
