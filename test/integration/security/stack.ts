// The adversarial suite's stack: `iotmq dev` (startArm) with the identities an attacker or an
// unlucky operator holds — the owner of subscription A (the dev user), a principal of another
// tenant B with a subscription of its own, the local cluster's agent, the front door itself (ARM)
// and nobody (anonymous) — and a raw HTTPS client that sends the request target byte for byte
// (curl --path-as-is): Node's URL-based request() would resolve `..` before sending.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { PROVIDER_NAMESPACE } from '../../../src/api/openapi.js';
import { ARM_SCOPE, devCredential } from '../../support/dev-sdk.js';
import { rawRequest } from '../../support/raw-http.js';
import { MQ_API, startArm, type ArmHarness, type HttpResult } from '../arm/harness.js';

export { MQ_API };
export const NS = PROVIDER_NAMESPACE;
export const RP_SCOPE = 'api://iotmq-rp/.default';

export type IdentityName = 'ownerA' | 'tenantB' | 'agent' | 'arm' | 'anonymous';

export interface Tenant {
  tenantId: string;
  subscriptionId: string;
  clientId: string;
  clientSecret: string;
  /** A resource group of its own subscription. */
  resourceGroup: string;
}

export interface SecurityStack {
  arm: ArmHarness;
  /** Subscription A (the dev subscription) and its parts. */
  a: { subscriptionId: string; resourceGroup: string; clusterId: string; customLocationId: string; mq: string };
  b: Tenant;
  /** A bearer token (ARM audience unless told) of each identity; undefined for anonymous. */
  token(who: IdentityName, scope?: string): Promise<string | undefined>;
  /** The request target exactly as given, over HTTPS to the front door (or to `base`). */
  raw(
    method: string,
    target: string,
    options?: {
      who?: IdentityName;
      body?: unknown;
      headers?: Record<string, string>;
      base?: string;
      /** Another loopback address (127.0.0.2 …) to send from: another client address for rate limits. */
      localAddress?: string;
    },
  ): Promise<HttpResult>;
}

/** Makes tenant B through the directory, then registers its subscription through the front door as B. */
export async function addTenant(arm: ArmHarness, name: string): Promise<Tenant> {
  const tenantId = randomUUID();
  const subscriptionId = randomUUID();
  arm.dev.armStore.tenants.put({ id: tenantId, displayName: name });
  arm.dev.armStore.subscriptions.put({ id: subscriptionId, tenantId, displayName: name, state: 'Enabled' });
  const { principal, clientSecret } = await arm.dev.frontDoor.identity.createServicePrincipal({
    tenantId,
    displayName: `${name} owner`,
  });
  const tenant = { tenantId, subscriptionId, clientId: principal.clientId, clientSecret, resourceGroup: `${name}-rg` };
  const token = await tokenOf(arm, tenant);
  const auth = { authorization: `Bearer ${token}` };
  const registered = await arm.call(
    'POST',
    `/subscriptions/${subscriptionId}/providers/${PROVIDER_NAMESPACE}/register?api-version=2021-04-01`,
    undefined,
    auth,
  );
  if (registered.status !== 200) throw new Error(`registering ${name}: ${registered.status} ${registered.text}`);
  const group = await arm.call(
    'PUT',
    `/subscriptions/${subscriptionId}/resourcegroups/${tenant.resourceGroup}?api-version=2021-04-01`,
    { location: 'eastus' },
    auth,
  );
  if (group.status !== 201) throw new Error(`resource group of ${name}: ${group.status} ${group.text}`);
  return tenant;
}

async function tokenOf(
  arm: ArmHarness,
  principal: { tenantId: string; clientId: string; clientSecret: string },
  scope = ARM_SCOPE,
): Promise<string> {
  return (await devCredential(arm.dev, principal).getToken(scope))!.token;
}

/** The stack for one test file: started in beforeAll, closed in afterAll. */
export function useSecurityStack(): () => SecurityStack {
  let stack: SecurityStack | undefined;
  let tlsAgent: https.Agent | undefined;
  beforeAll(async () => {
    const arm = await startArm({ agent: true });
    const { config } = arm.dev;
    const state = JSON.parse(await readFile(path.join(arm.dataDir, 'dev-state.json'), 'utf8')) as {
      frontDoor: { clientId: string; clientSecret: string };
    };
    const b = await addTenant(arm, 'tenant-b');
    const mq = `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}/providers/${NS}/mq/victim`;
    const created = await arm.call('PUT', `${mq}?api-version=${MQ_API}`, {
      location: config.location,
      extendedLocation: { name: config.customLocationId, type: 'CustomLocation' },
      properties: {},
    });
    if (created.status !== 201) throw new Error(`creating ${mq}: ${created.status} ${created.text}`);
    const agent = (tlsAgent = new https.Agent({ ca: arm.dev.caPem }));
    const tokens = new Map<string, Promise<string>>();
    const token: SecurityStack['token'] = async (who, scope = ARM_SCOPE) => {
      if (who === 'anonymous') return undefined;
      const key = `${who} ${scope}`;
      let value = tokens.get(key);
      if (!value) {
        const principal =
          who === 'ownerA'
            ? { tenantId: config.tenantId, clientId: config.clientId, clientSecret: config.clientSecret }
            : who === 'tenantB'
              ? b
              : who === 'agent'
                ? { tenantId: config.tenantId, ...config.agent }
                : { tenantId: config.tenantId, ...state.frontDoor };
        value = tokenOf(arm, principal, scope);
        tokens.set(key, value);
      }
      return value;
    };
    stack = {
      arm,
      a: {
        subscriptionId: config.subscriptionId,
        resourceGroup: config.resourceGroup,
        clusterId: config.clusterId,
        customLocationId: config.customLocationId,
        mq,
      },
      b,
      token,
      async raw(method, target, options = {}) {
        const bearer = await token(options.who ?? 'ownerA');
        const headers: Record<string, string> = { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) };
        return rawRequest(
          options.base ?? arm.url,
          agent,
          method,
          target,
          options.body,
          { ...headers, ...options.headers },
          options.localAddress,
        );
      },
    };
  }, 60_000);
  afterAll(async () => {
    tlsAgent?.destroy();
    await stack?.arm.close();
  });
  return () => stack!;
}
