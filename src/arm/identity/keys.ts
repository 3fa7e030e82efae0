import { createHash, type webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from 'jose';

type CryptoKey = webcrypto.CryptoKey;

/** The token signing key: RS256, kept in the data dir so tokens stay valid across restarts. */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  /** The public half as published in the JWKS. */
  jwks: JSONWebKeySet;
}

const FILE = 'identity-signing-key.json';

export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const file = path.join(dataDir, FILE);
  let privateJwk: JWK;
  if (existsSync(file)) {
    privateJwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
  } else {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    privateJwk = await exportJWK(privateKey);
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(privateJwk), { mode: 0o600 });
    await chmod(file, 0o600);
  }
  // kid = RFC 7638-style thumbprint prefix: stable for the key, changes when the key does.
  const kid = createHash('sha256').update(`${privateJwk.e}.${privateJwk.n}`).digest('base64url').slice(0, 27);
  const publicJwk: JWK = { kty: 'RSA', use: 'sig', alg: 'RS256', kid, n: privateJwk.n, e: privateJwk.e };
  const privateKey = (await importJWK({ ...privateJwk, alg: 'RS256' }, 'RS256')) as CryptoKey;
  return { kid, privateKey, jwks: { keys: [publicJwk] } };
}
