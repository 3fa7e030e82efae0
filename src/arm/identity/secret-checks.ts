import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FairWorkQueue } from '../../common/fair-work-queue.js';
import { verifySecret } from './secrets.js';

/**
 * Client-secret checks for the token endpoint, bounded so that wrong secrets cannot be used to
 * starve everyone else [issue 11 item 5]:
 * - a secret this process has verified before is recognised by an HMAC in memory (microseconds),
 *   so clients that already hold a good secret never wait behind the expensive checks;
 * - scrypt checks run at most `concurrency` at a time, taken round-robin from each client
 *   address's queue (a FairWorkQueue, src/common/fair-work-queue.ts); at most `maxWaiting` wait, and one address holds at most `maxPerSource`
 *   checks — beyond that the request is refused at once with `Throttled` (429 + Retry-After)
 *   instead of queueing work nobody can wait for;
 * - a check whose caller has gone away is dropped before it starts;
 * - an unknown client costs the same scrypt run (against a dummy hash) as a wrong secret, so the
 *   answer's timing does not tell which client ids exist.
 */
export interface SecretChecker {
  /** `secretHash` undefined: the client does not exist (checked anyway, for equal timing). */
  verify(input: {
    source: string;
    clientId: string;
    secret: string;
    secretHash: string | undefined;
    signal?: AbortSignal;
  }): Promise<boolean>;
}

/**
 * What an unknown client's secret is checked against: the hash (same scrypt parameters as every
 * stored one, see PARAMS in secrets.ts) of a random secret that was thrown away — nothing matches it, and it costs nothing
 * to start up.
 */
const UNKNOWN_CLIENT_HASH = 'scrypt$131072$8$1$ACFMBDEUpeM8XqYiU8deUg$DkoZTCEsMXUdYJkxNlWD59Jp2u1kCC86fwOGRK3zop4';

export class Throttled extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('too many client-secret checks are waiting');
  }
}

export interface SecretCheckerOptions {
  concurrency?: number;
  maxWaiting?: number;
  maxPerSource?: number;
}

export function createSecretChecker(options: SecretCheckerOptions = {}): SecretChecker {
  const concurrency = options.concurrency ?? 2;
  const maxWaiting = options.maxWaiting ?? 64;
  const maxPerSource = options.maxPerSource ?? 8;
  const key = randomBytes(32);
  const digest = (clientId: string, secret: string) =>
    createHmac('sha256', key).update(`${clientId}\n${secret}`).digest();
  /** clientId → the stored hash a secret was verified against, and that secret's HMAC. */
  const verified = new Map<string, { secretHash: string; digest: Buffer }>();

  // Waiting checks per client address, served round-robin: one address's flood delays another
  // address by at most one round of running checks, not by everything it queued. An address holds
  // a place from admission until its check ends.
  const queue = new FairWorkQueue({ concurrency, maxWaiting, maxPerSource, perSourceCountsRunning: true });

  return {
    async verify({ source, clientId, secret, secretHash, signal }) {
      const known = verified.get(clientId);
      const mac = digest(clientId, secret);
      if (known && secretHash !== undefined && known.secretHash === secretHash && timingSafeEqual(known.digest, mac))
        return true;
      const outcome = queue.run({ source, signal }, async () => {
        if (secretHash === undefined) {
          await verifySecret(secret, UNKNOWN_CLIENT_HASH);
          return false;
        }
        const ok = await verifySecret(secret, secretHash);
        if (ok) verified.set(clientId, { secretHash, digest: mac });
        return ok;
      });
      const load = queue.waiting + queue.running; // read at once: the load a refusal was decided on
      const result = await outcome;
      if (result === 'abandoned') return false; // the caller is gone: no answer to compute
      if (result === 'busy' || result === 'source-busy') {
        // About how long the work ahead takes to drain (~100 ms per check), in whole seconds.
        throw new Throttled(Math.max(1, Math.ceil((load * 0.1) / concurrency)));
      }
      return result;
    },
  };
}
