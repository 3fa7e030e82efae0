import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { verifySecret } from './secrets.js';

/**
 * Client-secret checks for the token endpoint, bounded so that wrong secrets cannot be used to
 * starve everyone else [issue 11 item 5]:
 * - a secret this process has verified before is recognised by an HMAC in memory (microseconds),
 *   so clients that already hold a good secret never wait behind the expensive checks;
 * - scrypt checks run at most `concurrency` at a time, taken round-robin from each client
 *   address's queue; at most `maxWaiting` wait, and one address holds at most `maxPerSource`
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
  // address by at most one round of running checks, not by everything it queued.
  let running = 0;
  let waitingCount = 0;
  const queues = new Map<string, (() => void)[]>();
  const held = new Map<string, number>();
  const next = () => {
    while (running < concurrency && waitingCount > 0) {
      const [source, queue] = queues.entries().next().value!;
      const start = queue.shift()!;
      queues.delete(source);
      if (queue.length > 0) queues.set(source, queue); // to the back of the rotation
      waitingCount--;
      start();
    }
  };
  /** Runs `work` in turn; the caller's address holds a slot from admission until the work ends. */
  const inTurn = <T>(source: string, work: () => Promise<T>): Promise<T> => {
    const mine = held.get(source) ?? 0;
    if (mine >= maxPerSource || waitingCount >= maxWaiting) {
      // About how long the work ahead takes to drain (~100 ms per check), in whole seconds.
      throw new Throttled(Math.max(1, Math.ceil(((waitingCount + running) * 0.1) / concurrency)));
    }
    held.set(source, mine + 1);
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        running++;
        work()
          .then(resolve, reject)
          .finally(() => {
            running--;
            const left = (held.get(source) ?? 1) - 1;
            if (left <= 0) held.delete(source);
            else held.set(source, left);
            next();
          });
      };
      const queue = queues.get(source);
      if (queue) queue.push(start);
      else queues.set(source, [start]);
      waitingCount++;
      next();
    });
  };

  return {
    async verify({ source, clientId, secret, secretHash, signal }) {
      const known = verified.get(clientId);
      const mac = digest(clientId, secret);
      if (known && secretHash !== undefined && known.secretHash === secretHash && timingSafeEqual(known.digest, mac))
        return true;
      return inTurn(source, async () => {
        if (signal?.aborted) return false; // the caller is gone: no answer to compute
        if (secretHash === undefined) {
          await verifySecret(secret, UNKNOWN_CLIENT_HASH);
          return false;
        }
        const ok = await verifySecret(secret, secretHash);
        if (ok) verified.set(clientId, { secretHash, digest: mac });
        return ok;
      });
    },
  };
}
