import { ClientSecretCredential } from '@azure/identity';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { FastifyInstance } from 'fastify';
import { buildRegistry } from '../api/registry.js';
import { componentLogger } from '../common/log.js';
import { buildArmApp } from './app.js';
import { caTrustOptions } from './ca-trust.js';
import { createCallerVerifier } from './caller.js';
import type { ArmContext } from './context.js';
import { createIdentityService, type IdentityService, type SigningKey } from './identity/index.js';
import { createRpClient } from './rp-client.js';
import type { ArmStore } from './store.js';

/** Token audiences ARM accepts [AAD-4]: the CLI's, the SDKs', and its own URL (the SDK default scope). */
export const ARM_AUDIENCES = ['https://management.core.windows.net/', 'https://management.azure.com/'];

export interface FrontDoorOptions {
  store: ArmStore;
  signingKey: SigningKey;
  tls: { key: string; cert: string; caPem: string };
  host: string;
  port: number;
  rp: { url: () => string; audience: string };
  /** The front door's own service principal: how it authenticates to the RP [AUTH-4 jwt]. */
  principal: () => { tenantId: string; clientId: string; clientSecret: string };
  /** The tenant an `/adfs` authority stands for. */
  adfsTenant: string;
  retryAfterSeconds?: number;
  maxPollMs?: number;
}

export interface FrontDoor {
  app: FastifyInstance;
  /** `https://host:port` */
  url: string;
  identity: IdentityService;
  context: ArmContext;
  /** Call once the RP listens: resumes interrupted background work. */
  markReady(): void;
  close(): Promise<void>;
}

export async function startFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  let publicUrl = '';
  let credential: TokenCredential | undefined;
  const identity = createIdentityService({
    store: options.store,
    signingKey: options.signingKey,
    publicUrl: () => publicUrl,
    audiences: () => [...ARM_AUDIENCES, `${publicUrl}/`, options.rp.audience],
    adfsTenant: options.adfsTenant,
  });
  // Built on first use: its authority host is this server, and on first start its principal is made after the server listens.
  const lazyCredential: TokenCredential = {
    getToken: (scopes, opts): Promise<AccessToken | null> => {
      if (!credential) {
        const principal = options.principal();
        credential = new ClientSecretCredential(principal.tenantId, principal.clientId, principal.clientSecret, {
          authorityHost: publicUrl,
          disableInstanceDiscovery: true,
          ...caTrustOptions(options.tls.caPem),
        });
      }
      return credential.getToken(scopes, opts);
    },
  };
  const abort = new AbortController();
  const work = new Set<Promise<unknown>>();
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  const context: ArmContext = {
    store: options.store,
    identity,
    rp: createRpClient({
      url: options.rp.url,
      publicUrl: () => publicUrl,
      credential: lazyCredential,
      audience: options.rp.audience,
    }),
    registry: buildRegistry(),
    verifyCaller: createCallerVerifier(identity, ARM_AUDIENCES),
    publicUrl: () => publicUrl,
    retryAfterSeconds: options.retryAfterSeconds ?? 10,
    maxPollMs: options.maxPollMs ?? 5000,
    log: componentLogger('arm'),
    signal: abort.signal,
    ready: readyPromise,
    dispatch: () => Promise.reject(new Error('the front door is not built yet')),
    track(promise) {
      work.add(promise);
      void promise.finally(() => work.delete(promise));
    },
    async close() {
      abort.abort();
      await Promise.allSettled([...work]);
    },
  };
  const app = await buildArmApp({
    context,
    tls: options.tls,
    rpUrl: options.rp.url,
    verifyRpToken: createCallerVerifier(identity, [options.rp.audience]),
  });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address() as { port: number };
  const hostPart = options.host.includes(':') ? `[${options.host}]` : options.host;
  publicUrl = `https://${hostPart}:${address.port}`;
  // The public URL is an accepted audience too (the SDK's default scope is `${endpoint}/.default`) [AAD-6].
  context.verifyCaller = createCallerVerifier(identity, [...ARM_AUDIENCES, publicUrl]);
  return {
    app,
    url: publicUrl,
    identity,
    context,
    markReady: ready,
    close: () => app.close(),
  };
}
