// Starts `iotmq dev` (startDev: front door + identity on HTTPS with its own CA, the RP behind it on
// SQLite) in a temp data dir on a loopback port, and gives tests real Azure SDK clients that trust
// the dev CA per request — TLS verification is never turned off.
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { caTrustOptions } from '../../../src/arm/ca-trust.js';
import { startDev, type DevHandles } from '../../../src/cli/dev.js';

export const MQ_API = '2023-10-04-preview';

export interface ArmHarness {
  dev: DevHandles;
  dataDir: string;
  url: string;
  credential: ClientSecretCredential;
  client: ResourceManagementClient;
  /** A token of the dev user for ARM. */
  token(scope?: string): Promise<string>;
  /** The local cluster's agent token (for the RP's agent API). */
  agentToken(): Promise<string>;
  /** HTTPS JSON request to the front door, trusting the dev CA. */
  call(method: string, pathAndQuery: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  close(): Promise<void>;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

export async function startArm(options: { dataDir?: string; keep?: boolean } = {}): Promise<ArmHarness> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'iotmq-arm-')));
  const dev = await startDev({ dataDir, port: 0, retryAfterSeconds: 1, operationDeadlineMs: 60_000 });
  const { config } = dev;
  const credential = new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, {
    authorityHost: config.authorityHost,
    disableInstanceDiscovery: true,
    ...caTrustOptions(dev.caPem),
  });
  const agentCredential = new ClientSecretCredential(
    config.tenantId,
    config.agent.clientId,
    config.agent.clientSecret,
    {
      authorityHost: config.authorityHost,
      disableInstanceDiscovery: true,
      ...caTrustOptions(dev.caPem),
    },
  );
  const client = new ResourceManagementClient(credential, config.subscriptionId, {
    endpoint: config.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
    ...caTrustOptions(dev.caPem),
  });
  const agent = new https.Agent({ ca: dev.caPem });
  const harness: ArmHarness = {
    dev,
    dataDir,
    url: config.armEndpoint,
    credential,
    client,
    token: async (scope = 'https://management.azure.com/.default') => (await credential.getToken(scope))!.token,
    agentToken: async () => (await agentCredential.getToken(config.agent.scope))!.token,
    async call(method, pathAndQuery, body, headers = {}) {
      const auth: Record<string, string> =
        'authorization' in headers ? {} : { authorization: `Bearer ${await harness.token()}` };
      return httpsRequest(agent, `${config.armEndpoint}${pathAndQuery}`, method, body, { ...auth, ...headers });
    },
    async close() {
      await dev.close();
      agent.destroy();
      if (!options.keep) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

export function httpsRequest(
  agent: https.Agent,
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method,
        agent,
        headers: {
          ...(payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')
            ? { 'content-type': 'application/json' }
            : {}),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: response.statusCode!, headers: response.headers, text, body: parsed });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}
