// The Azure SDK for JavaScript drives the RP over HTTPS: @azure/arm-resources generic resources
// create, read, update and delete every resource type, and the SDK's own long-running-operation
// poller (core-lro) must finish against our Azure-AsyncOperation / Location / Retry-After headers.
// The credential is a TokenCredential over the harness's signed tokens (what @azure/identity gives
// an app); the ARM stand-in's token issuer is exercised with ClientSecretCredential in test/integration/arm.
import { Agent } from 'node:https';
import { ResourceManagementClient } from '@azure/arm-resources';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistry, type ResourceType } from '../../../src/api/registry.js';
import { createCertificateAuthority, issueServerCertificate } from '../../../src/common/tls.js';
import { SAMPLES } from '../../../scripts/specs/samples.js';
import { completeOperations } from './agent-client.js';
import { CLUSTER, CUSTOM_LOCATION, registerSubscription, startRp, SUBSCRIPTION, type RpHarness } from './harness.js';

const API_VERSION = '2023-10-04-preview';
let rp: RpHarness;
let client: ResourceManagementClient;
let agentLoop: NodeJS.Timeout;

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'iotmq test CA' });
  const tls = await issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  rp = await startRp({ tls: { ...tls, caPem: ca.certPem } });
  await registerSubscription(rp);
  const credential: TokenCredential = {
    getToken: async () => ({ token: await rp.token(), expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const agent = new Agent({ ca: ca.certPem });
  client = new ResourceManagementClient(credential, SUBSCRIPTION, {
    endpoint: rp.url,
    credentialScopes: ['https://management.azure.com/.default'],
    additionalPolicies: [
      {
        position: 'perCall',
        policy: { name: 'trustTestCa', sendRequest: (request, next) => ((request.agent = agent), next(request)) },
      },
    ],
  });
  // The cluster side: an agent that converges everything it is given, over the real agent API.
  const agentToken = await rp.agentToken();
  const tick = async () => {
    await completeOperations(rp.url, agentToken, CLUSTER, { statuses: ['Succeeded'], ca: ca.certPem }).catch(() => 0);
    await completeOperations(rp.url, agentToken, CLUSTER, { statuses: ['Deleted'], ca: ca.certPem }).catch(() => 0);
  };
  agentLoop = setInterval(() => void tick(), 150);
});
afterAll(async () => {
  clearInterval(agentLoop);
  await rp.close();
});

function idOf(type: ResourceType): string {
  const chain: ResourceType[] = [];
  for (let t: ResourceType | undefined = type; t; t = t.parent) chain.unshift(t);
  const pairs = chain.map((t) => `${t.segments.at(-1)}/${SAMPLES[t.tag]!.name}`).join('/');
  return `/subscriptions/${SUBSCRIPTION}/resourceGroups/sdk-rg/providers/Microsoft.IoTOperationsMQ/${pairs}`;
}

describe('Azure SDK generic resources', () => {
  const types = buildRegistry().types;

  it('creates every resource type; the poller completes with Succeeded', async () => {
    for (const type of types) {
      const result = await client.resources.beginCreateOrUpdateByIdAndWait(idOf(type), API_VERSION, {
        location: 'eastus',
        extendedLocation: { name: CUSTOM_LOCATION, type: 'CustomLocation' },
        tags: { created: 'sdk' },
        properties: SAMPLES[type.tag]!.properties,
      });
      expect(result.id, type.tag).toBe(idOf(type));
      expect((result.properties as { provisioningState: string }).provisioningState, type.tag).toBe('Succeeded');
    }
  });

  it('reads and updates each one', async () => {
    for (const type of types) {
      const got = await client.resources.getById(idOf(type), API_VERSION);
      expect(got.type).toBe(type.armType);
      const updated = await client.resources.beginUpdateByIdAndWait(idOf(type), API_VERSION, {
        tags: { updated: 'sdk' },
      });
      expect(updated.tags).toEqual({ updated: 'sdk' });
    }
  });

  it('lists each type by its parent through the SDK pipeline, following nextLink page by page', async () => {
    for (const type of types) {
      const parent = type.parent
        ? idOf(type.parent)
        : `/subscriptions/${SUBSCRIPTION}/resourceGroups/sdk-rg/providers/Microsoft.IoTOperationsMQ`;
      let url: string | undefined = `${rp.url}${parent}/${type.segments.at(-1)}?api-version=${API_VERSION}&$top=1`;
      const names: string[] = [];
      while (url) {
        const response = await client.sendRequest(createPipelineRequest({ url, method: 'GET' }));
        expect(response.status, type.tag).toBe(200);
        const page = JSON.parse(response.bodyAsText!) as { value: { name: string }[]; nextLink?: string };
        names.push(...page.value.map((r) => r.name));
        url = page.nextLink;
      }
      expect(names, type.tag).toEqual([SAMPLES[type.tag]!.name]);
    }
  });

  it('deletes the top-level resource; the poller completes and every child is gone', async () => {
    const top = types.find((t) => !t.parent)!;
    await client.resources.beginDeleteByIdAndWait(idOf(top), API_VERSION);
    for (const type of types) {
      const exists = await client.resources.checkExistenceById(idOf(type), API_VERSION);
      expect(exists.body, type.tag).toBe(false);
    }
  });
});
