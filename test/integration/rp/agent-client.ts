// A minimal agent over the real agent API, for RP tests: reads the feed and reports states. The
// real agent (extension/agent) is tested against this same API in test/integration/agent.
import { agentFeedPath, agentStatusPath, type FeedEvent } from '../../../src/api/agent-protocol.js';
import { httpRequest } from './harness.js';

export interface AgentClientOptions {
  /** CA to trust when the RP serves HTTPS with a test certificate. */
  ca?: string;
}

function request(url: string, method: string, token: string, body: unknown, options: AgentClientOptions) {
  return httpRequest(url, {
    method,
    ca: options.ca,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function readFeed(
  url: string,
  token: string,
  clusterId: string,
  since?: number,
  options: AgentClientOptions = {},
): Promise<{ events: FeedEvent[] }> {
  const query = since === undefined ? '' : `?since=${since}`;
  const response = await request(`${url}${agentFeedPath(clusterId)}${query}`, 'GET', token, undefined, options);
  if (response.status !== 200) throw new Error(`feed: ${response.status} ${response.text}`);
  return {
    events: response.text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as FeedEvent),
  };
}

/**
 * Reports every resource of the cluster whose state is not terminal: `statuses[0]` for resources in
 * provisioning, `Deleted` for those being deleted when asked. Returns how many were reported.
 */
export async function completeOperations(
  url: string,
  token: string,
  clusterId: string,
  options: { statuses?: string[]; error?: { code: string; message: string } } & AgentClientOptions = {},
): Promise<number> {
  const { events } = await readFeed(url, token, clusterId, undefined, options);
  const wanted = options.statuses ?? ['Succeeded'];
  const reports = [];
  for (const event of events) {
    if (event.type !== 'upsert') continue;
    const state = (event.resource.properties as { provisioningState?: string }).provisioningState;
    if (state === 'Deleting') {
      if (wanted.includes('Deleted')) reports.push({ resourceId: event.id, etag: event.etag, status: 'Deleted' });
    } else if (!['Succeeded', 'Failed'].includes(state ?? 'Succeeded') && !wanted.includes('Deleted')) {
      reports.push({ resourceId: event.id, etag: event.etag, status: wanted[0], error: options.error });
    }
  }
  if (reports.length === 0) return 0;
  // Children first, as a cluster finishes them: the RP holds a parent's Deleted while children remain.
  reports.sort((a, b) => b.resourceId.split('/').length - a.resourceId.split('/').length);
  const response = await request(`${url}${agentStatusPath(clusterId)}`, 'POST', token, { reports }, options);
  if (response.status !== 200) throw new Error(`status: ${response.status} ${response.text}`);
  return reports.length;
}
