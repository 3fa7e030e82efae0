// The broker's rule on top of the fair work queue: within one address, the newest CONNECT of a
// client id is checked first, and a newer one takes the place of an older one when the address is full.
import { expect, it } from 'vitest';
import { PasswordQueue } from '../../../extension/broker/auth/password-queue.js';

it('checks the newest attempt of a client id first and lets it displace an older one when full', async () => {
  const queue = new PasswordQueue({ concurrency: 1, maxPerSource: 3, maxWaiting: 100 });
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const check = (clientId: string, attempt: number) => {
    const name = `${clientId}#${attempt}`;
    return queue.run({ source: '10.0.0.1', clientId, stillWanted: () => true }, () => {
      started.push(name);
      return new Promise<boolean>((resolve) => release.set(name, () => resolve(false)));
    });
  };
  const finish = async (name: string) => {
    release.get(name)!();
    await new Promise((r) => setImmediate(r));
  };
  check('a', 0); // runs
  check('a', 1);
  const b = check('b', 1);
  const a2 = check('a', 2);
  const a3 = check('a', 3); // full: displaces a#1
  expect(await check('c', 1)).toBe('source-busy'); // full, no older attempt of c
  for (const n of ['a#0', 'b#1', 'a#3']) await finish(n);
  expect(started).toEqual(['a#0', 'b#1', 'a#3', 'a#2']);
  await finish('a#2');
  expect(await Promise.all([b, a2, a3])).toEqual([false, false, false]);
});
