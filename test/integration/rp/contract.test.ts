// The ARM resource-provider contract (docs/arm-rpc-rules.md), rule by rule, over
// real HTTP against the RP on a loopback port — once on its embedded SQLite store, once on a real
// PostgreSQL server (test/peers/postgres.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresPeer } from '../../peers/postgres.js';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import {
  API,
  CLUSTER,
  CUSTOM_LOCATION,
  httpRequest,
  mqBody,
  OTHER_CUSTOM_LOCATION,
  registerSubscription,
  rg,
  startRp,
  SUBSCRIPTION,
  type RpHarness,
} from './harness.js';
import { completeOperations, readFeed } from './agent-client.js';
import { AGENT_API_PREFIX, agentFeedPath, agentStatusPath, type FeedEvent } from '../../../src/api/agent-protocol.js';

let rp: RpHarness;
let postgres: PostgresPeer | undefined;
afterAll(() => postgres?.stop());

const backends: [string, () => Promise<string | undefined>][] = [
  ['SQLite', async () => undefined],
  ['PostgreSQL', async () => (postgres ??= await startPostgres()).createDatabase()],
];

describe.each(backends)('RP contract on %s', (_backend, storeUrl) => {
  beforeAll(async () => {
    rp = await startRp({ storeUrl: await storeUrl() });
    await registerSubscription(rp);
  });
  afterAll(() => rp.close());

  const child = (tag: keyof typeof SAMPLES) => ({
    location: 'eastus',
    extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
    properties: SAMPLES[tag]!.properties,
  });

  describe('[AUTH] authentication', () => {
    it('401 with WWW-Authenticate without a token', async () => {
      const response = await fetch(`${rp.url}${rg()}/mq/abc?${API}`);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer authorization_uri=".+", error="invalid_token"/);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('AuthenticationFailed');
    });
    it.each([
      ['expired', { expiresIn: '-10m' }, 'ExpiredAuthenticationToken'],
      ['for another audience', { audience: 'https://vault.azure.net' }, 'InvalidAuthenticationTokenAudience'],
    ])('401 for a token %s', async (_name, options, code) => {
      const token = await rp.token({}, options);
      const response = await rp.call('GET', `${rg()}/mq?${API}`, undefined, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe(code);
    });
    it('401 for a token signed by another key', async () => {
      const { generateKeyPair } = await import('jose');
      const { privateKey } = await generateKeyPair('RS256');
      const token = await rp.token({}, { key: privateKey });
      const response = await rp.call('GET', `${rg()}/mq?${API}`, undefined, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe('InvalidAuthenticationToken');
    });
  });

  describe('[AUTH-4] trusted ARM callers', () => {
    it('403 for a valid token of an app that is not ARM; the agent API is unaffected', async () => {
      const guarded = await startRp({ armCallers: ['arm-front-door'] });
      try {
        await registerSubscription(guarded, 'Registered').catch(() => undefined);
        const stranger = await guarded.call('GET', `${rg()}/mq?${API}`, undefined, {
          authorization: `Bearer ${await guarded.token({ appid: 'someone-else' })}`,
        });
        expect(stranger.status).toBe(403);
        expect(stranger.body.error.code).toBe('AuthorizationFailed');
        const arm = await guarded.call('GET', `${rg()}/mq?${API}`, undefined, {
          authorization: `Bearer ${await guarded.token({ appid: 'arm-front-door' })}`,
        });
        expect(arm.status).toBe(200);
        const feed = await readFeed(guarded.url, await guarded.agentToken(), CLUSTER);
        expect(feed.events.at(-1)?.type).toBe('bookmark');
      } finally {
        await guarded.close();
      }
    });
  });

  describe('[ID] ids, names and api-version', () => {
    it('[ID-8] 400 MissingApiVersionParameter / InvalidApiVersionParameter', async () => {
      expect((await rp.call('GET', `${rg()}/mq/abc`)).body.error.code).toBe('MissingApiVersionParameter');
      const bad = await rp.call('GET', `${rg()}/mq/abc?api-version=2099-01-01`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('InvalidApiVersionParameter');
      expect(bad.body.error.message).toContain('2023-10-04-preview');
    });
    it('[ID-6] 400 InvalidResourceName for names outside ^[a-zA-Z0-9-]{3,24}$', async () => {
      for (const name of ['ab', 'a'.repeat(25), 'has_underscore', 'dot.ted', '%3Cscript%3E']) {
        const response = await rp.call('PUT', `${rg()}/mq/${name}?${API}`, mqBody());
        expect(response.status, name).toBe(400);
        expect(response.body.error.code).toBe('InvalidResourceName');
      }
    });
    it('[ID-2, ID-3] matches ids case-insensitively and keeps the casing of the PUT', async () => {
      const put = await rp.call('PUT', `${rg('Plant')}/mq/MyMq?${API}`, mqBody());
      expect(put.status).toBe(201);
      const get = await rp.call(
        'GET',
        `/SUBSCRIPTIONS/${SUBSCRIPTION.toUpperCase()}/RESOURCEGROUPS/PLANT/providers/microsoft.iotoperationsmq/MQ/mymq?${API}`,
      );
      expect(get.status).toBe(200);
      expect(get.body.id).toBe(
        `/subscriptions/${SUBSCRIPTION}/resourceGroups/Plant/providers/Microsoft.IoTOperationsMQ/mq/MyMq`,
      );
      expect(get.body.name).toBe('MyMq');
      expect(get.body.type).toBe('Microsoft.IoTOperationsMQ/mq');
    });
    it('[ID-7] tolerates a doubled or trailing slash', async () => {
      expect((await rp.call('GET', `${rg('Plant')}//mq/MyMq/?${API}`)).status).toBe(200);
    });
  });

  describe('[PUT] create and replace', () => {
    it('[PUT-3] 201 Accepted with Azure-AsyncOperation and Retry-After on the Referer host', async () => {
      const response = await rp.call('PUT', `${rg()}/mq/put-async?${API}`, mqBody(), {
        referer: `https://management.contoso.test:4443${rg()}/mq/put-async?${API}`,
      });
      expect(response.status).toBe(201);
      expect(response.body.properties.provisioningState).toBe('Accepted');
      expect(response.headers.get('azure-asyncoperation')).toMatch(
        new RegExp(
          `^https://management\\.contoso\\.test:4443/subscriptions/${SUBSCRIPTION}/providers/Microsoft\\.IoTOperationsMQ/locations/eastus/operationStatuses/[0-9a-f-]{36}\\?api-version=2023-10-04-preview$`,
        ),
      );
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('etag')).toMatch(/^".+"$/);
      expect(response.headers.get('x-ms-request-id')).toBeTruthy();
    });
    it('[PUT-8, ID-4] ignores read-only fields in the body', async () => {
      const response = await rp.call('PUT', `${rg()}/mq/readonly?${API}`, {
        ...mqBody(),
        id: '/subscriptions/x/evil',
        name: 'evil',
        type: 'Microsoft.Evil/things',
        systemData: { createdBy: 'mallory' },
      });
      expect(response.status).toBe(201);
      expect(response.body.name).toBe('readonly');
      expect(response.body.type).toBe('Microsoft.IoTOperationsMQ/mq');
      expect(response.body.systemData.createdBy).toBe('ops@contoso.com');
    });
    it('[SHAPE-6] systemData from x-ms-arm-resource-system-data', async () => {
      const header = JSON.stringify({
        createdBy: 'alice@contoso.com',
        createdByType: 'User',
        createdAt: '2023-11-14T09:12:31.1234567Z',
      });
      const response = await rp.call('PUT', `${rg()}/mq/sysdata?${API}`, mqBody(), {
        'x-ms-arm-resource-system-data': header,
      });
      expect(response.body.systemData).toMatchObject({
        createdBy: 'alice@contoso.com',
        createdByType: 'User',
        createdAt: '2023-11-14T09:12:31.1234567Z',
      });
    });
    it('[SHAPE-3] location is required, normalised and immutable', async () => {
      const missing = await rp.call('PUT', `${rg()}/mq/noloc?${API}`, {
        extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
      });
      expect(missing.status).toBe(400);
      expect(missing.body.error.code).toBe('LocationRequired');
      const created = await rp.call('PUT', `${rg()}/mq/withloc?${API}`, mqBody({ location: 'East US' }));
      expect(created.body.location).toBe('eastus');
      const moved = await rp.call('PUT', `${rg()}/mq/withloc?${API}`, mqBody({ location: 'westus' }));
      expect(moved.status).toBe(409);
      expect(moved.body.error.code).toBe('InvalidResourceLocation');
    });
    it('[SHAPE-5] extendedLocation must be an existing custom location and never change', async () => {
      const wrongType = await rp.call(
        'PUT',
        `${rg()}/mq/extloc?${API}`,
        mqBody({ extendedLocation: { name: CUSTOM_LOCATION, type: 'EdgeZone' } }),
      );
      expect(wrongType.status).toBe(400);
      expect(wrongType.body.error.target).toBe('extendedLocation.type');
      const unknown = await rp.call(
        'PUT',
        `${rg()}/mq/extloc?${API}`,
        mqBody({
          extendedLocation: { name: CUSTOM_LOCATION.replace('plant-1-cl', 'nowhere'), type: 'CustomLocation' },
        }),
      );
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.code).toBe('InvalidExtendedLocation');
      expect((await rp.call('PUT', `${rg()}/mq/extloc?${API}`, mqBody())).status).toBe(201);
      const moved = await rp.call(
        'PUT',
        `${rg()}/mq/extloc?${API}`,
        mqBody({ extendedLocation: { name: OTHER_CUSTOM_LOCATION, type: 'CustomLocation' } }),
      );
      expect(moved.status).toBe(400);
      expect(moved.body.error.code).toBe('PropertyChangeNotAllowed');
    });
    it('[ERR-1] schema violations: one details entry per property, with its JSON path as target', async () => {
      const response = await rp.call('PUT', `${rg()}/mq/badbody?${API}`, {
        location: 'eastus',
        extendedLocation: { name: 42 },
        tags: { env: 7 },
        properties: { bogus: true },
      });
      expect(response.status).toBe(400);
      const targets = response.body.error.details.map((d: { target: string }) => d.target).sort();
      expect(targets).toEqual(['extendedLocation.name', 'extendedLocation.type', 'properties.bogus', 'tags.env']);
      for (const detail of response.body.error.details)
        expect(detail).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      expect((await rp.call('GET', `${rg()}/mq/badbody?${API}`)).status).toBe(404);
    });
    it('[PUT-6] 400 InvalidRequestContent for broken JSON, 413 for a body over the limit', async () => {
      const broken = await rp.call('PUT', `${rg()}/mq/broken?${API}`, '{"location": "eastus",');
      expect(broken.status).toBe(400);
      expect(broken.body.error.code).toBe('InvalidRequestContent');
      const huge = await rp.call('PUT', `${rg()}/mq/huge?${API}`, {
        ...mqBody(),
        tags: { big: 'x'.repeat(5 * 1024 * 1024) },
      });
      expect(huge.status).toBe(413);
      expect(huge.body.error.code).toBe('RequestTooLarge');
    });
    it('[PUT-6, GET-1] 404 ParentResourceNotFound for a child of a missing parent', async () => {
      const response = await rp.call('PUT', `${rg()}/mq/missing-parent/broker/broker?${API}`, child('Broker'));
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('ParentResourceNotFound');
    });
    it('[ETAG-2] If-Match and If-None-Match', async () => {
      const path = `${rg()}/mq/etags?${API}`;
      expect((await rp.call('PUT', path, mqBody(), { 'if-match': '*' })).status).toBe(412);
      const created = await rp.call('PUT', path, mqBody(), { 'if-none-match': '*' });
      expect(created.status).toBe(201);
      expect((await rp.call('PUT', path, mqBody(), { 'if-none-match': '*' })).status).toBe(412);
      const wrong = await rp.call('PATCH', path, { tags: { a: 'b' } }, { 'if-match': '"not-the-etag"' });
      expect(wrong.status).toBe(412);
      expect(wrong.body.error.code).toBe('PreconditionFailed');
      const right = await rp.call('PATCH', path, { tags: { a: 'b' } }, { 'if-match': created.headers.get('etag')! });
      expect(right.status).toBe(200);
      expect((await rp.call('DELETE', path, undefined, { 'if-match': '"nope"' })).status).toBe(412);
    });
  });

  describe('[ASYNC] operations complete from the cluster', () => {
    it('[PUT-4] the agent report ends the operation; GET shows the live state', async () => {
      const put = await rp.call('PUT', `${rg()}/mq/lifecycle?${API}`, mqBody());
      const statusUrl = new URL(put.headers.get('azure-asyncoperation')!);
      const running = await rp.call('GET', statusUrl.pathname + statusUrl.search);
      expect(running.status).toBe(200);
      expect(running.body).toMatchObject({ status: 'Accepted', resourceId: put.body.id });
      expect(running.headers.get('retry-after')).toBe('1');

      const agentToken = await rp.agentToken();
      await completeOperations(rp.url, agentToken, CLUSTER, { statuses: ['Provisioning'] });
      expect((await rp.call('GET', `${rg()}/mq/lifecycle?${API}`)).body.properties.provisioningState).toBe(
        'Provisioning',
      );
      await completeOperations(rp.url, agentToken, CLUSTER);
      const done = await rp.call('GET', statusUrl.pathname + statusUrl.search);
      expect(done.body).toMatchObject({ status: 'Succeeded', percentComplete: 100, endTime: expect.any(String) });
      expect((await rp.call('GET', `${rg()}/mq/lifecycle?${API}`)).body.properties.provisioningState).toBe('Succeeded');
    });
    it('[PUT-5] a no-op PUT answers 200 at once without async headers; the same PUT in flight reuses the operation', async () => {
      const path = `${rg()}/mq/noop?${API}`;
      const first = await rp.call('PUT', path, mqBody({ tags: { a: '1' } }));
      const again = await rp.call('PUT', path, mqBody({ tags: { a: '1' } }));
      expect(again.status).toBe(200);
      expect(again.headers.get('azure-asyncoperation')).toBe(first.headers.get('azure-asyncoperation'));
      const different = await rp.call('PUT', path, mqBody({ tags: { a: '2' } }));
      expect(different.status).toBe(409);
      await completeOperations(rp.url, await rp.agentToken(), CLUSTER);
      const noop = await rp.call('PUT', path, mqBody({ tags: { a: '1' } }));
      expect(noop.status).toBe(200);
      expect(noop.headers.get('azure-asyncoperation')).toBeNull();
    });
    it('a failure report fails the operation with the cluster reason; a stale ETag changes nothing', async () => {
      const put = await rp.call('PUT', `${rg()}/mq/failing?${API}`, mqBody());
      const agentToken = await rp.agentToken();
      const stale = await fetch(`${rp.url}${agentStatusPath(CLUSTER)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ resourceId: put.body.id, etag: 'old-etag', status: 'Succeeded' }),
      });
      expect(((await stale.json()) as { results: { outcome: string }[] }).results[0]!.outcome).toBe('stale');
      await completeOperations(rp.url, agentToken, CLUSTER, {
        statuses: ['Failed'],
        error: { code: 'BrokerNotFound', message: 'no broker' },
      });
      const url = new URL(put.headers.get('azure-asyncoperation')!);
      const status = await rp.call('GET', url.pathname + url.search);
      expect(status.body).toMatchObject({ status: 'Failed', error: { code: 'BrokerNotFound', message: 'no broker' } });
    });
    it('the feed keeps only the configured number of revisions; an agent further behind relists', async () => {
      const small = await startRp({ feedRetention: 2, compactionIntervalMs: 20 });
      try {
        await registerSubscription(small);
        for (let i = 0; i < 5; i++) await small.call('PUT', `${rg()}/mq/retained-${i}?${API}`, mqBody());
        const token = await small.agentToken();
        let status = 0;
        for (let i = 0; i < 100 && status !== 410; i++) {
          const response = await fetch(`${small.url}${agentFeedPath(CLUSTER)}?since=0`, {
            headers: { authorization: `Bearer ${token}` },
          });
          status = response.status;
          await response.arrayBuffer();
          if (status !== 410) await new Promise((r) => setTimeout(r, 20)); // the compaction timer's period
        }
        expect(status).toBe(410);
        const relist = await readFeed(small.url, token, CLUSTER);
        expect(relist.events.filter((e) => e.type === 'upsert')).toHaveLength(5);
      } finally {
        await small.close();
      }
    });

    it('the agent API serves only the cluster its token names', async () => {
      const token = await rp.agentToken(CLUSTER);
      const other = encodeURIComponent(CLUSTER.replace('plant-1', 'plant-2'));
      const response = await fetch(`${rp.url}${AGENT_API_PREFIX}/${other}/resources`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(403);
      const userToken = await rp.token();
      const asUser = await fetch(`${rp.url}${agentFeedPath(CLUSTER)}`, {
        headers: { authorization: `Bearer ${userToken}` },
      });
      expect(asUser.status).toBe(403);
    });
    it('the feed relists, then resumes from a revision, and answers 410 when too far behind', async () => {
      const token = await rp.agentToken();
      const { events } = await readFeed(rp.url, token, CLUSTER);
      const bookmark = events.at(-1)!;
      expect(bookmark.type).toBe('bookmark');
      expect(events.filter((e) => e.type === 'upsert').length).toBeGreaterThan(3);
      await rp.call('PUT', `${rg()}/mq/after-bookmark?${API}`, mqBody());
      const resumed = await readFeed(rp.url, token, CLUSTER, bookmark.revision);
      expect(resumed.events.map((e) => e.type === 'upsert' && e.id.endsWith('after-bookmark'))).toContain(true);
      await rp.store.feed.compactBefore(await rp.store.feed.currentRevision());
      const gone = await fetch(`${rp.url}${agentFeedPath(CLUSTER)}?since=1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(gone.status).toBe(410);
    });
  });

  describe('[DEL] delete and cascade', () => {
    it('[DEL-2, DEL-4] 202 with Location; Deleting until the cluster removes it; children go too', async () => {
      const agentToken = await rp.agentToken();
      await rp.call('PUT', `${rg()}/mq/cascade?${API}`, mqBody());
      await completeOperations(rp.url, agentToken, CLUSTER);
      const broker = await rp.call('PUT', `${rg()}/mq/cascade/broker/broker?${API}`, child('Broker'));
      expect(broker.status, JSON.stringify(broker.body)).toBe(201);
      await completeOperations(rp.url, agentToken, CLUSTER);

      const del = await rp.call('DELETE', `${rg()}/mq/cascade?${API}`);
      expect(del.status).toBe(202);
      const location = new URL(del.headers.get('location')!);
      expect(location.pathname).toMatch(/\/operationResults\//);
      expect((await rp.call('GET', location.pathname + location.search)).status).toBe(202);
      expect((await rp.call('GET', `${rg()}/mq/cascade/broker/broker?${API}`)).body.properties.provisioningState).toBe(
        'Deleting',
      );
      expect((await rp.call('DELETE', `${rg()}/mq/cascade?${API}`)).headers.get('location')).toBe(
        del.headers.get('location'),
      );

      // The parent's Deleted report waits while a child is still on the cluster [DEL-4].
      const feed = await readFeed(rp.url, agentToken, CLUSTER);
      const parent = feed.events.find(
        (e): e is Extract<FeedEvent, { type: 'upsert' }> => e.type === 'upsert' && e.id.endsWith('/mq/cascade'),
      );
      const early = await httpRequest(`${rp.url}${agentStatusPath(CLUSTER)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          resourceId: parent!.id,
          etag: parent!.etag,
          status: 'Deleted',
        }),
      });
      expect(JSON.parse(early.text).results[0].outcome).toBe('pending');
      expect((await rp.call('GET', location.pathname + location.search)).status).toBe(202);

      await completeOperations(rp.url, agentToken, CLUSTER, { statuses: ['Deleted'] });
      expect((await rp.call('GET', location.pathname + location.search)).status).toBe(204);
      expect((await rp.call('GET', `${rg()}/mq/cascade?${API}`)).status).toBe(404);
      expect((await rp.call('GET', `${rg()}/mq/cascade/broker/broker?${API}`)).body.error.code).toBe(
        'ParentResourceNotFound',
      );
      expect((await rp.call('DELETE', `${rg()}/mq/cascade?${API}`)).status).toBe(204);
    });
    it('[ASYNC] an operation nobody reports on fails as cluster not connected', async () => {
      const quick = await startRp({ operationDeadlineMs: 300 });
      try {
        await registerSubscription(quick);
        const put = await quick.call('PUT', `${rg()}/mq/orphan?${API}`, mqBody());
        expect((await quick.call('GET', `${rg()}/mq/orphan?${API}`)).body.properties.provisioningState).toBe(
          'Accepted',
        );
        const url = new URL(put.headers.get('azure-asyncoperation')!);
        let status;
        for (let i = 0; i < 100; i++) {
          status = await quick.call('GET', url.pathname + url.search);
          if (status.body.status !== 'Accepted') break;
          await new Promise((r) => setTimeout(r, 50)); // polling, as an ARM client does
        }
        expect(status!.body).toMatchObject({ status: 'Failed', error: { code: 'ClusterNotConnected' } });
        expect((await quick.call('GET', `${rg()}/mq/orphan?${API}`)).body.properties.provisioningState).toBe('Failed');
      } finally {
        await quick.close();
      }
    });
  });

  describe('[GET-1] a GET after any write shows it (SQLite answers GET from memory)', () => {
    it('after PUT, status reports, PATCH, DELETE and its cascade: the new body and ETag', async () => {
      const agentToken = await rp.agentToken();
      const path = `${rg()}/mq/cached?${API}`;
      const shouting = `${rg().toUpperCase()}/MQ/CACHED?${API}`;
      const childPath = `${rg()}/mq/cached/broker/broker?${API}`;
      const put = await rp.call('PUT', path, mqBody({ tags: { v: '1' } }));
      let read = await rp.call('GET', path);
      expect(read.body).toEqual(put.body);
      expect(read.headers.get('etag')).toBe(put.headers.get('etag'));
      expect((await rp.call('GET', shouting)).body.id).toBe(put.body.id); // one resource, the PUT's casing

      await completeOperations(rp.url, agentToken, CLUSTER, { statuses: ['Provisioning'] });
      expect((await rp.call('GET', shouting)).body.properties.provisioningState).toBe('Provisioning');
      await completeOperations(rp.url, agentToken, CLUSTER);
      expect((await rp.call('GET', path)).body.properties.provisioningState).toBe('Succeeded');

      // A tags-only PATCH keeps the ETag and changes the body.
      const patched = await rp.call('PATCH', path, { tags: { v: '2' } });
      read = await rp.call('GET', shouting);
      expect(read.body.tags).toEqual({ v: '2' });
      expect(read.body).toEqual(patched.body);
      expect(read.headers.get('etag')).toBe(patched.headers.get('etag'));

      const replaced = await rp.call('PUT', path, mqBody({ tags: { v: '3' } }));
      read = await rp.call('GET', path);
      expect(read.headers.get('etag')).toBe(replaced.headers.get('etag'));
      expect(read.headers.get('etag')).not.toBe(patched.headers.get('etag'));
      expect(read.body).toMatchObject({ tags: { v: '3' }, properties: { provisioningState: 'Accepted' } });
      await completeOperations(rp.url, agentToken, CLUSTER);

      expect((await rp.call('PUT', childPath, child('Broker'))).status).toBe(201);
      await completeOperations(rp.url, agentToken, CLUSTER);
      expect((await rp.call('GET', childPath)).body.properties.provisioningState).toBe('Succeeded');
      expect((await rp.call('DELETE', path)).status).toBe(202);
      expect((await rp.call('GET', path)).body.properties.provisioningState).toBe('Deleting');
      expect((await rp.call('GET', childPath)).body.properties.provisioningState).toBe('Deleting');
      await completeOperations(rp.url, agentToken, CLUSTER, { statuses: ['Deleted'] });
      read = await rp.call('GET', shouting);
      expect(read.status).toBe(404);
      expect(read.body.error.code).toBe('ResourceNotFound');
      expect((await rp.call('HEAD', path)).status).toBe(404);
      expect((await rp.call('GET', childPath)).body.error.code).toBe('ParentResourceNotFound');
    });
  });

  describe('[PATCH] update', () => {
    it('[PATCH-2] tags replace the whole map; location may not change', async () => {
      const path = `${rg()}/mq/patched?${API}`;
      await rp.call('PUT', path, mqBody({ tags: { a: '1', b: '2' } }));
      const patched = await rp.call('PATCH', path, { tags: { c: '3' } });
      expect(patched.status).toBe(200);
      expect(patched.body.tags).toEqual({ c: '3' });
      expect((await rp.call('PATCH', `${rg()}/mq/not-there?${API}`, { tags: {} })).status).toBe(404);
    });
  });

  describe('[GET-2] lists', () => {
    it('[GET-5] an empty list is 200 with value [] and no nextLink: a group without resources, a parent without children', async () => {
      const none = await rp.call('GET', `${rg('nothing-here')}/mq?${API}`);
      expect(none.status).toBe(200);
      expect(none.body).toEqual({ value: [] });
      expect((await rp.call('PUT', `${rg('nothing-here')}/mq/lonely?${API}`, mqBody())).status).toBe(201);
      const children = await rp.call('GET', `${rg('nothing-here')}/mq/lonely/broker?${API}`);
      expect(children.status).toBe(200);
      expect(children.body).toEqual({ value: [] });
    });
    it('pages with $top and an absolute nextLink built from the Referer', async () => {
      for (let i = 0; i < 5; i++) await rp.call('PUT', `${rg('paged')}/mq/page-${i}?${API}`, mqBody());
      const seen: string[] = [];
      let next: string | undefined = `${rg('paged')}/mq?${API}&$top=2`;
      let pages = 0;
      while (next) {
        const response = await rp.call('GET', next, undefined, {
          referer: `https://arm.contoso.test${rg('paged')}/mq?${API}`,
        });
        expect(response.status).toBe(200);
        expect(Object.keys(response.body).sort()).toEqual(response.body.nextLink ? ['nextLink', 'value'] : ['value']);
        seen.push(...response.body.value.map((r: { name: string }) => r.name));
        if (response.body.nextLink) {
          const url = new URL(response.body.nextLink);
          expect(url.origin).toBe('https://arm.contoso.test');
          expect(url.searchParams.get('api-version')).toBe('2023-10-04-preview');
          next = url.pathname + url.search;
        } else next = undefined;
        pages++;
      }
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
      const bySubscription = await rp.call(
        'GET',
        `/subscriptions/${SUBSCRIPTION}/providers/Microsoft.IoTOperationsMQ/mq?${API}&$top=1000`,
      );
      expect(bySubscription.body.value.length).toBeGreaterThanOrEqual(5);
    });
  });

  describe('[SUB] subscription lifecycle', () => {
    it('Warned refuses writes but allows DELETE; Deleted purges the data', async () => {
      const sub = '0f0f0f0f-1111-4222-8333-444444444444';
      await registerSubscription(rp, 'Registered', sub);
      const path = `/subscriptions/${sub}/resourceGroups/x/providers/Microsoft.IoTOperationsMQ/mq/lifemq?${API}`;
      const body = mqBody({ extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' } });
      expect((await rp.call('PUT', path, body)).status).toBe(201);
      await registerSubscription(rp, 'Warned', sub);
      const refused = await rp.call('PUT', path, mqBody({ tags: { new: 'x' } }));
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('SubscriptionNotRegistered');
      expect((await rp.call('GET', path)).status).toBe(200);
      await registerSubscription(rp, 'Deleted', sub);
      expect((await rp.call('GET', path)).status).toBe(404);
      const unknown = await rp.call(
        'PUT',
        `/subscriptions/9e9e9e9e-1111-4222-8333-444444444444/resourceGroups/x/providers/Microsoft.IoTOperationsMQ/mq/abc?${API}`,
        body,
      );
      expect(unknown.body.error.code).toBe('MissingSubscriptionRegistration');
    });
  });

  describe('[SUB-1, SUB-2] the lifecycle notification', () => {
    it('accepts keys it does not know, at any depth, and echoes the body', async () => {
      const body = {
        state: 'Registered',
        registrationDate: 'Mon, 13 Nov 2023 09:00:00 GMT',
        futureTopLevel: true,
        properties: {
          tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
          accountOwner: { email: 'ops@contoso.com', futureOwnerField: 'x' },
          registeredFeatures: [{ name: 'Microsoft.IoTOperationsMQ/preview', state: 'Registered', since: 2024 }],
          additionalProperties: {
            resourceProviderProperties: { resourceProviderNamespace: 'Microsoft.IoTOperationsMQ' },
          },
          futureProperty: { nested: [{ deeper: null }] },
        },
      };
      const response = await rp.call(
        'PUT',
        `/subscriptions/7d2c8b1e-5f4a-4c3b-9e8d-1a2b3c4d5e6f?api-version=2.0`,
        body,
      );
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.body).toEqual(body);
    });
  });

  describe('[OPS] operations API', () => {
    it('lists read/write/delete for every type and the register action', async () => {
      const response = await rp.call('GET', `/providers/Microsoft.IoTOperationsMQ/operations?${API}`);
      expect(response.status).toBe(200);
      const names = response.body.value.map((o: { name: string }) => o.name);
      expect(names).toContain('Microsoft.IoTOperationsMQ/register/action');
      expect(names).toContain('Microsoft.IoTOperationsMQ/mq/write');
      for (const op of response.body.value)
        expect(op).toMatchObject({
          isDataAction: false,
          display: { provider: expect.any(String), resource: expect.any(String) },
        });
    });
  });

  describe('[HDR] headers', () => {
    it('[HDR-3] request id always, correlation and client request id echoed', async () => {
      const response = await rp.call('GET', `${rg()}/mq?${API}`, undefined, {
        'x-ms-correlation-request-id': 'corr-1',
        'x-ms-client-request-id': 'client-1',
        'x-ms-return-client-request-id': 'true',
      });
      expect(response.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get('x-ms-correlation-request-id')).toBe('corr-1');
      expect(response.headers.get('x-ms-client-request-id')).toBe('client-1');
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    });
  });
});
