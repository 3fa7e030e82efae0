// Username/password authentication against the password database secret (key passwords.toml).
import { readFileSync } from 'node:fs';
import { ReasonCode } from '../protocol/reason-codes.js';
import { parsePasswordDatabase, verifyPassword } from './password-db.js';
import type { AuthenticationMethod } from './types.js';

export const PASSWORD_DB_KEY = 'passwords.toml';

export function createUsernamePasswordMethod(file: string): AuthenticationMethod {
  // read at (re)load: a changed secret arrives with a config reload
  const users = parsePasswordDatabase(readFileSync(file, 'utf8'));
  const bad = {
    result: 'reject',
    reasonCode: ReasonCode.BadUserNameOrPassword,
    reason: 'bad user name or password',
  } as const;
  return {
    kind: 'usernamePassword',
    relevant: (c) => c.username !== undefined && !c.username.startsWith('$sat'),
    async authenticate(c) {
      const entry = users.get(c.username!);
      if (!entry || !c.password) return bad;
      if (!(await verifyPassword(c.password, entry.password))) return bad;
      return { result: 'accept', username: c.username, attributes: { ...entry.attributes } };
    },
  };
}
