// The product's password database (section 3 "Username/password"): TOML, one table per user,
// `password` a PBKDF2 string, optional `<user>.attributes` for authorization:
//
//   [client1]
//   password = "$pbkdf2-sha512$i=210000,l=64$<salt b64>$<hash b64>"
//   [client1.attributes]
//   floor = "floor1"
//
// Base64 is standard with the `=` padding stripped; the iteration count is read from each string.
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { parse } from 'smol-toml';

const pbkdf2Async = promisify(pbkdf2);
const HASH_FORMAT = /^\$pbkdf2-(sha512|sha256)\$i=(\d+),l=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export interface PasswordEntry {
  password: string;
  attributes: Record<string, string>;
}

export function parsePasswordDatabase(toml: string): Map<string, PasswordEntry> {
  const doc = parse(toml) as Record<string, unknown>;
  const users = new Map<string, PasswordEntry>();
  for (const [user, value] of Object.entries(doc)) {
    const table = value as { password?: unknown; attributes?: Record<string, unknown> };
    if (typeof table !== 'object' || typeof table.password !== 'string')
      throw new Error(`password database: user ${user} has no password`);
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(table.attributes ?? {})) attributes[k] = String(v);
    users.set(user, { password: table.password, attributes });
  }
  return users;
}

/** The hash string `az iot ops mq get-password-hash` produces (210000 iterations by default). */
export async function hashPassword(password: string, iterations = 210_000): Promise<string> {
  const salt = randomBytes(16);
  const hash = await pbkdf2Async(password, salt, iterations, 64, 'sha512');
  return `$pbkdf2-sha512$i=${iterations},l=64$${b64(salt)}$${b64(hash)}`;
}

export async function verifyPassword(password: Buffer, encoded: string): Promise<boolean> {
  const m = HASH_FORMAT.exec(encoded);
  if (!m) return false;
  const [, digest, iterations, length, salt, expected] = m;
  const want = Buffer.from(expected, 'base64');
  if (want.length !== Number(length)) return false;
  const got = await pbkdf2Async(password, Buffer.from(salt, 'base64'), Number(iterations), Number(length), digest);
  return timingSafeEqual(got, want);
}

/**
 * A hash no password matches, with the parameters of `like` (a real entry of the database), so
 * that checking a password against it costs what checking a real user's costs: a refusal then
 * takes as long whether the user name exists or not.
 */
export function standInHash(like: string | undefined): string {
  const m = like === undefined ? null : HASH_FORMAT.exec(like);
  const [digest, iterations, length] = m ? [m[1], Number(m[2]), Number(m[3])] : ['sha512', 210_000, 64];
  return `$pbkdf2-${digest}$i=${iterations},l=${length}$${b64(randomBytes(16))}$${b64(randomBytes(length))}`;
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}
