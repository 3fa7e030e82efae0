// Custom authentication server (section 3 "Custom authentication server"): POST the credentials
// as JSON; 200 accepts (attributes, optional expiry), 403 rejects with a CONNACK reason code.
// An unreachable server is "not relevant", so the chain moves on.
import { ReasonCode } from '../protocol/reason-codes.js';
import { httpJson } from './http-json.js';
import type { AuthenticationMethod, AuthOutcome, Credentials } from './types.js';

export const CUSTOM_AUTH_API_VERSION = '0.5.0';

export interface CustomMethodOptions {
  endpoint: string;
  ca?: string;
  clientCert?: string;
  clientKey?: string;
  headers?: Record<string, string>;
}

export function createCustomMethod(options: CustomMethodOptions): AuthenticationMethod {
  let apiVersion = CUSTOM_AUTH_API_VERSION;

  async function call(c: Credentials, retried = false): Promise<AuthOutcome> {
    const url = new URL(options.endpoint);
    url.searchParams.set('api-version', apiVersion);
    let res;
    try {
      res = await httpJson(url.toString(), {
        method: 'POST',
        headers: options.headers,
        ca: options.ca,
        cert: options.clientCert,
        key: options.clientKey,
        body: {
          type: 'connect',
          ...(c.username !== undefined ? { username: c.username } : {}),
          ...(c.password !== undefined ? { password: c.password.toString('base64') } : {}),
          ...(c.certificateChain ? { certs: c.certificateChain.join('') } : {}),
          ...(c.authenticationMethod
            ? {
                enhancedAuthentication: {
                  method: c.authenticationMethod,
                  data: c.authenticationData?.toString('base64'),
                },
              }
            : {}),
        },
      });
    } catch {
      return { result: 'not-relevant' };
    }
    const body = (res.body ?? {}) as {
      attributes?: Record<string, unknown>;
      expiry?: string;
      reason?: number;
      message?: string;
      supportedVersions?: string[];
    };
    if (res.status === 422 && !retried && body.supportedVersions?.length) {
      // the server speaks another API version: retry once with one it supports
      apiVersion = body.supportedVersions[0];
      return call(c, true);
    }
    if (res.status === 200) {
      const attributes: Record<string, string> = {};
      for (const [k, v] of Object.entries(body.attributes ?? {})) attributes[k] = String(v);
      const expiresAt = body.expiry === undefined ? undefined : Date.parse(body.expiry);
      // An expiry we cannot read fails closed: admitting the client would make its credentials last forever.
      if (expiresAt !== undefined && Number.isNaN(expiresAt))
        return {
          result: 'reject',
          reasonCode: ReasonCode.NotAuthorized,
          reason: 'authentication server sent an expiry that is not an RFC 3339 time',
        };
      // Credentials that have already run out are refused, not let in and disconnected at once.
      if (expiresAt !== undefined && expiresAt <= Date.now())
        return { result: 'reject', reasonCode: ReasonCode.NotAuthorized, reason: 'credentials already expired' };
      return { result: 'accept', username: c.username, attributes, ...(expiresAt !== undefined ? { expiresAt } : {}) };
    }
    if (res.status === 403)
      return {
        result: 'reject',
        reasonCode: typeof body.reason === 'number' ? body.reason : ReasonCode.NotAuthorized,
        reason: body.message ?? 'rejected by the authentication server',
      };
    return {
      result: 'reject',
      reasonCode: ReasonCode.NotAuthorized,
      reason: `authentication server answered ${res.status}`,
    };
  }

  return { kind: 'custom', relevant: () => true, authenticate: (c) => call(c) };
}
