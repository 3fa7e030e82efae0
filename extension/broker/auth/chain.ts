// The authentication chain (section 3 "Chain"): methods in order; the first one the credentials
// are relevant to decides; nothing relevant means refusal.
import { ReasonCode } from '../protocol/reason-codes.js';
import type { AuthenticationMethod, AuthOutcome, Credentials } from './types.js';

export function createAuthenticationChain(methods: AuthenticationMethod[]): (c: Credentials) => Promise<AuthOutcome> {
  return async (credentials) => {
    for (const method of methods) {
      if (!method.relevant(credentials)) continue;
      const outcome = await method.authenticate(credentials);
      if (outcome.result !== 'not-relevant') return outcome;
    }
    return {
      result: 'reject',
      reasonCode: ReasonCode.NotAuthorized,
      reason: 'no authentication method accepts these credentials',
    };
  };
}
