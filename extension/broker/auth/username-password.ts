// Username/password authentication against the password database secret (key passwords.toml).
// Checks go through the process's password queue (password-queue.ts) and a per-address limit on
// failures; an unknown user name is checked against a stand-in hash, so its refusal takes as long
// as a wrong password's and does not tell which names exist.
import { readFileSync } from 'node:fs';
import { ReasonCode } from '../protocol/reason-codes.js';
import { parsePasswordDatabase, standInHash, verifyPassword } from './password-db.js';
import { FailureThrottle, PasswordQueue } from './password-queue.js';
import type { AuthenticationMethod, AuthOutcome } from './types.js';

export const PASSWORD_DB_KEY = 'passwords.toml';

/** Shared by every password method of the process (they come and go with config reloads). */
export interface PasswordGuard {
  queue: PasswordQueue;
  throttle: FailureThrottle;
}
const processGuard: PasswordGuard = { queue: new PasswordQueue(), throttle: new FailureThrottle() };

const refusal = (reasonCode: number, reason: string): AuthOutcome =>
  Object.freeze({ result: 'reject', reasonCode, reason });
const BAD = refusal(ReasonCode.BadUserNameOrPassword, 'bad user name or password');
const TOO_MANY_FAILURES = refusal(
  ReasonCode.ConnectionRateExceeded,
  'too many failed logins from this address; try again later',
);
const SOURCE_BUSY = refusal(
  ReasonCode.ConnectionRateExceeded,
  'too many logins in progress from this address; try again later',
);
const BUSY = refusal(ReasonCode.ServerBusy, 'too many logins in progress; try again later');

export function createUsernamePasswordMethod(file: string, guard: PasswordGuard = processGuard): AuthenticationMethod {
  // read at (re)load: a changed secret arrives with a config reload
  const users = parsePasswordDatabase(readFileSync(file, 'utf8'));
  const standIn = standInHash(users.values().next().value?.password);
  return {
    kind: 'usernamePassword',
    relevant: (c) => c.username !== undefined && !c.username.startsWith('$sat'),
    async authenticate(c) {
      const password = c.password;
      if (!password) return BAD; // no hashing, for known and unknown names alike
      if (!guard.throttle.allows(c.sourceAddress)) return TOO_MANY_FAILURES;
      const entry = users.get(c.username!);
      const matched = await guard.queue.run(
        { source: c.sourceAddress, clientId: c.clientId, stillWanted: c.stillWanted ?? (() => true) },
        () => verifyPassword(password, entry?.password ?? standIn),
      );
      if (matched === 'source-busy') return SOURCE_BUSY;
      if (matched === 'busy') return BUSY;
      if (matched === 'abandoned') return BAD; // nobody is there to hear it
      if (matched && entry) return { result: 'accept', username: c.username, attributes: { ...entry.attributes } };
      guard.throttle.failed(c.sourceAddress);
      return BAD;
    },
  };
}
