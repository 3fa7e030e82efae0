// Authorization rules (section 4): principals (client ids, usernames, attribute sets) ×
// broker resources (Connect, Publish and Subscribe with topic filters). Allow-list: a request no
// rule allows is denied.
import type { AuthorizationSpec, BrokerResourceMethod } from '../config.js';
import { filterCovers, topicMatches } from '../session/topic-filter.js';
import type { Authorizer, Principal } from './types.js';

const VARIABLE = /\{principal\.(clientId|username|attributes\.([^}]+))\}/g;

export function createAuthorizer(policies: AuthorizationSpec['authorizationPolicies']): Authorizer {
  const rules = policies.rules ?? [];
  const cache = policies.enableCache ? new Map<string, boolean>() : undefined;

  function principalMatches(rule: (typeof rules)[number], p: Principal): boolean {
    const { clientids, usernames, attributes } = rule.principals;
    if (clientids?.includes(p.clientId)) return true;
    if (p.username !== undefined && usernames?.includes(p.username)) return true;
    // within one attribute set every pair must match; any set will do (case-sensitive)
    return (attributes ?? []).some((set) => Object.entries(set).every(([k, v]) => p.attributes[k] === v));
  }

  /** The rule's topic patterns for this method with principal variables expanded. */
  function patterns(method: BrokerResourceMethod, p: Principal): string[] {
    const out: string[] = [];
    for (const rule of rules) {
      if (!principalMatches(rule, p)) continue;
      for (const r of rule.brokerResources) {
        if (r.method !== method) continue;
        for (const t of r.topics ?? []) {
          const expanded = expand(t, p);
          if (expanded !== null) out.push(expanded);
        }
      }
    }
    return out;
  }

  function decide(key: string, compute: () => boolean): boolean {
    if (!cache) return compute();
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const v = compute();
    cache.set(key, v);
    return v;
  }

  return {
    canConnect: (p) =>
      decide(`C\u0000${p.clientId}\u0000${p.username}`, () =>
        rules.some((r) => principalMatches(r, p) && r.brokerResources.some((b) => b.method === 'Connect')),
      ),
    canPublish: (p, topic) =>
      decide(`P\u0000${p.clientId}\u0000${p.username}\u0000${topic}`, () =>
        patterns('Publish', p).some((f) => topicMatches(f, topic)),
      ),
    canSubscribe: (p, filter) =>
      decide(`S\u0000${p.clientId}\u0000${p.username}\u0000${filter}`, () =>
        patterns('Subscribe', p).some((f) => filterCovers(f, filter)),
      ),
  };
}

/**
 * Expand `{principal.clientId}`, `{principal.username}`, `{principal.attributes.<name>}`. A token
 * must be a whole topic level (the later docs' rule), and a value that is empty or contains `/`,
 * `+` or `#` makes the pattern unusable: a client id of `#` must not grant every topic.
 * Returns null when the pattern does not apply to this principal.
 */
export function expand(pattern: string, p: Principal): string | null {
  const levels = pattern.split('/');
  const out: string[] = [];
  for (const level of levels) {
    if (!level.includes('{principal.')) {
      out.push(level);
      continue;
    }
    VARIABLE.lastIndex = 0;
    const m = VARIABLE.exec(level);
    if (!m || m[0] !== level) return null; // not a whole level
    const value = m[1] === 'clientId' ? p.clientId : m[1] === 'username' ? p.username : p.attributes[m[2]];
    if (value === undefined || value === '' || /[/+#]/.test(value)) return null;
    out.push(value);
  }
  return out.join('/');
}
