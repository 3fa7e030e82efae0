// X.509 client-certificate authentication (section 3 "X.509"): the chain the client presented
// must lead to a trusted client CA; the leaf CN becomes the username; attributes come from the
// x509Attributes.toml secret, walking leaf → root and stopping at the first subject that matches.
import { X509Certificate } from 'node:crypto';
import { parse } from 'smol-toml';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { AuthenticationMethod, AuthOutcome } from './types.js';

export const X509_ATTRIBUTES_KEY = 'x509Attributes.toml';

export interface X509MethodOptions {
  trustedCaPem: string;
  attributesToml?: string;
}

interface AttributeEntry {
  subject: string;
  attributes: Record<string, string>;
}

export function createX509Method(options: X509MethodOptions): AuthenticationMethod {
  const trusted = splitPem(options.trustedCaPem).map((p) => new X509Certificate(p));
  const entries = options.attributesToml ? parseAttributes(options.attributesToml) : [];
  const refuse = (reason: string): AuthOutcome => ({ result: 'reject', reasonCode: ReasonCode.NotAuthorized, reason });

  return {
    kind: 'x509',
    relevant: (c) => (c.certificateChain?.length ?? 0) > 0,
    async authenticate(c) {
      let chain: X509Certificate[];
      try {
        chain = c.certificateChain!.map((p) => new X509Certificate(p));
      } catch {
        return refuse('unreadable client certificate');
      }
      const path = buildPath(chain, trusted);
      if (!path) return refuse('client certificate does not chain to a trusted CA');
      const now = Date.now();
      for (const cert of path)
        if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now)
          return refuse('certificate expired or not yet valid');
      let attributes: Record<string, string> = {};
      for (const cert of path) {
        const hit = entries.find((e) => sameSubject(e.subject, cert.subject));
        if (hit) {
          attributes = { ...hit.attributes };
          break;
        }
      }
      return { result: 'accept', username: commonName(path[0].subject), attributes };
    },
  };
}

/** Leaf → … → trusted CA, each certificate signed by the next; null when no such path exists. */
function buildPath(chain: X509Certificate[], trusted: X509Certificate[]): X509Certificate[] | null {
  const path = [chain[0]];
  const pool = [...chain.slice(1), ...trusted];
  for (let depth = 0; depth < 10; depth++) {
    const cert = path[path.length - 1];
    const anchor = trusted.find((t) => cert.checkIssued(t) && cert.verify(t.publicKey));
    if (anchor) {
      if (anchor.fingerprint256 !== cert.fingerprint256) path.push(anchor);
      return path;
    }
    const issuer = pool.find((p) => p.ca && cert.checkIssued(p) && cert.verify(p.publicKey) && !path.includes(p));
    if (!issuer) return null;
    path.push(issuer);
  }
  return null;
}

function parseAttributes(toml: string): AttributeEntry[] {
  const doc = parse(toml) as Record<string, { subject?: unknown; attributes?: Record<string, unknown> }>;
  return Object.entries(doc).map(([key, t]) => {
    if (typeof t?.subject !== 'string') throw new Error(`x509 attributes: entry ${key} has no subject`);
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.attributes ?? {})) attributes[k] = String(v);
    return { subject: t.subject, attributes };
  });
}

/** `CN = a, OU = b` (the docs' form) and Node's `CN=a\nOU=b` compare equal; order does not matter. */
function sameSubject(a: string, b: string): boolean {
  return normaliseDn(a) === normaliseDn(b);
}

function normaliseDn(dn: string): string {
  return dn
    .split(/[,\n]/)
    .map((part) => part.split('=').map((s) => s.trim()))
    .filter((kv) => kv.length === 2 && kv[0] !== '')
    .map(([k, v]) => `${k.toUpperCase()}=${v}`)
    .sort()
    .join(',');
}

function commonName(subject: string): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1];
}

export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
