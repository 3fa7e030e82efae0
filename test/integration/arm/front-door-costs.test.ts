// What keeps the front door cheap per request: the RP index skips unchanged rows and commits once
// per event-loop turn (readers never see it behind), and the front door's own token for the RP is
// fetched once and reused until near expiry (concurrent requests share the fetch).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedToken } from '../../../src/arm/rp-client.js';
import { openArmStore, type ArmStore } from '../../../src/arm/store.js';
import { startArm, type ArmHarness } from './harness.js';

const sub = '00000000-0000-0000-0000-000000000001';
const mq = (name: string) => `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.IoTOperationsMQ/mq/${name}`;

describe('the RP index in the ARM store', () => {
  let dir: string;
  let store: ArmStore;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'iotmq-arm-store-'));
    file = path.join(dir, 'arm.db');
    store = openArmStore(file);
  });
  afterAll(async () => {
    store?.close();
    await rm(dir, { recursive: true, force: true });
  });
  // INSERT OR REPLACE gives a row a new rowid: an unchanged rowid means nothing was written.
  const rowid = (id: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return (
        db.prepare('SELECT rowid FROM resources WHERE key = ?').get(id.toLowerCase()) as { rowid: number } | undefined
      )?.rowid;
    } finally {
      db.close();
    }
  };

  it('a queued row is visible to the next read, and committed within the turn', async () => {
    store.resources.put({
      id: mq('a'),
      owner: 'rp',
      body: { id: mq('a'), type: 'Microsoft.IoTOperationsMQ/mq', location: 'eastus' },
    });
    store.resources.put({ id: `${mq('a')}/broker/b`, owner: 'rp', body: { id: `${mq('a')}/broker/b` } });
    expect(store.resources.list(sub, 'rg').map((r) => r.id)).toEqual([mq('a'), `${mq('a')}/broker/b`]);
    store.resources.put({ id: mq('c'), owner: 'rp', body: { id: mq('c') } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(rowid(mq('c'))).toBeTypeOf('number');
  });

  it('an unchanged envelope is not written again; a changed one is', () => {
    const before = rowid(mq('a'));
    store.resources.put({
      id: mq('a'),
      owner: 'rp',
      body: { id: mq('a'), type: 'Microsoft.IoTOperationsMQ/mq', location: 'eastus' },
    });
    store.resources.flush();
    expect(rowid(mq('a'))).toBe(before);
    store.resources.put({
      id: mq('a'),
      owner: 'rp',
      body: { id: mq('a'), type: 'Microsoft.IoTOperationsMQ/mq', location: 'eastus', tags: { t: '1' } },
    });
    store.resources.flush();
    expect(rowid(mq('a'))).not.toBe(before);
    expect(store.resources.get(mq('a'))?.body.tags).toEqual({ t: '1' });
  });

  it('deleteTree removes the resource and what is under it, not its namesake prefixes', () => {
    store.resources.put({ id: mq('a0'), owner: 'rp', body: { id: mq('a0') } });
    store.resources.deleteTree(mq('A'));
    expect(store.resources.list(sub).map((r) => r.id)).toEqual([mq('a0'), mq('c')]);
    // Deleted rows are forgotten: the same body indexes again.
    store.resources.put({ id: mq('a'), owner: 'rp', body: { id: mq('a') } });
    expect(store.resources.get(mq('a'))).toBeDefined();
  });

  it('survives a reopen (close flushes what is queued)', () => {
    store.resources.put({ id: mq('d'), owner: 'rp', body: { id: mq('d') } });
    store.close();
    store = openArmStore(file);
    expect(store.resources.get(mq('d'))?.body).toEqual({ id: mq('d') });
  });
});

describe("the front door's token for the RP", () => {
  let arm: ArmHarness;
  beforeAll(async () => {
    arm = await startArm();
  });
  afterAll(async () => {
    await arm?.close();
  });

  it('is fetched once from the identity stand-in and reused, also by concurrent callers', async () => {
    let fetched = 0;
    // The real credential of the dev user, counted: every call reaches the identity stand-in's cache or endpoint.
    const counting: TokenCredential = {
      getToken: async (scopes, options): Promise<AccessToken | null> => {
        fetched++;
        return arm.credential.getToken(scopes, options);
      },
    };
    const token = cachedToken(counting, 'api://iotmq-rp/.default');
    const tokens = await Promise.all(Array.from({ length: 20 }, () => token()));
    tokens.push(await token());
    expect(new Set(tokens).size).toBe(1);
    expect(fetched).toBe(1);
  });

  it('requests through the front door keep working on the cached token', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await arm.call(
        'GET',
        `/subscriptions/${arm.dev.config.subscriptionId}/resourceGroups/iotmq-local/providers/Microsoft.IoTOperationsMQ/mq?api-version=2023-10-04-preview`,
      );
      expect(response.status).toBe(200);
    }
  });
});
