// Kubernetes service-account token authentication (section 3 "SAT"): MQTT username `$sat`,
// password = the token; or MQTT 5 enhanced authentication method `K8S-SAT` with the token as
// authentication data (the product's later form). Tokens are checked with the TokenReview API
// and must carry one of the configured audiences; attributes come from the ServiceAccount's
// `aio-mq-broker-auth/` annotations.
import { ReasonCode } from '../protocol/reason-codes.js';
import { httpJson } from './http-json.js';
import type { AuthenticationMethod, AuthOutcome } from './types.js';

export const SAT_USERNAME = '$sat';
export const SAT_ENHANCED_METHOD = 'K8S-SAT';
const ANNOTATION_PREFIX = 'aio-mq-broker-auth/';

export interface SatMethodOptions {
  audiences: string[];
  /** API server base URL, or the full tokenreviews URL. */
  apiServer: string;
  /** Bearer token of the broker's own service account (needs tokenreviews create, serviceaccounts get). */
  token?: string;
  ca?: string;
}

interface TokenReview {
  status?: { authenticated?: boolean; audiences?: string[]; error?: string; user?: { username?: string } };
}

export function createSatMethod(options: SatMethodOptions): AuthenticationMethod {
  const base = options.apiServer
    .replace(/\/apis\/authentication\.k8s\.io\/v1\/tokenreviews\/?$/, '')
    .replace(/\/$/, '');
  const headers = options.token ? { authorization: `Bearer ${options.token}` } : undefined;
  const bad = (reason: string): AuthOutcome => ({
    result: 'reject',
    reasonCode: ReasonCode.BadUserNameOrPassword,
    reason,
  });

  async function review(token: string | undefined): Promise<AuthOutcome> {
    if (!token) return bad('no service account token');
    let res;
    try {
      res = await httpJson(`${base}/apis/authentication.k8s.io/v1/tokenreviews`, {
        method: 'POST',
        headers,
        ca: options.ca,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: options.audiences },
        },
      });
    } catch (err) {
      return {
        result: 'reject',
        reasonCode: ReasonCode.ServerUnavailable,
        reason: `token review failed: ${(err as Error).message}`,
      };
    }
    if (res.status !== 201 && res.status !== 200)
      return {
        result: 'reject',
        reasonCode: ReasonCode.ServerUnavailable,
        reason: `token review returned ${res.status}`,
      };
    const status = (res.body as TokenReview).status ?? {};
    if (!status.authenticated) return bad(status.error ?? 'token not authenticated');
    if (!(status.audiences ?? []).some((a) => options.audiences.includes(a))) return bad('token audience not accepted');
    const username = status.user?.username ?? '';
    return { result: 'accept', username, attributes: await annotations(username) };
  }

  /** `system:serviceaccount:<ns>:<name>` → its `aio-mq-broker-auth/*` annotations. */
  async function annotations(username: string): Promise<Record<string, string>> {
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
    if (!m) return {};
    try {
      const res = await httpJson(`${base}/api/v1/namespaces/${m[1]}/serviceaccounts/${m[2]}`, {
        headers,
        ca: options.ca,
      });
      const all =
        (res.body as { metadata?: { annotations?: Record<string, string> } } | undefined)?.metadata?.annotations ?? {};
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(all))
        if (k.startsWith(ANNOTATION_PREFIX)) out[k.slice(ANNOTATION_PREFIX.length)] = v;
      return out;
    } catch {
      return {}; // attributes are best effort; the identity itself was verified
    }
  }

  return {
    kind: 'sat',
    relevant: (c) => c.username?.startsWith(SAT_USERNAME) === true,
    authenticate: (c) => review(c.password?.toString('utf8')),
    enhanced: {
      name: SAT_ENHANCED_METHOD,
      begin: () => ({ step: (data) => review(data?.toString('utf8')) }),
    },
  };
}
