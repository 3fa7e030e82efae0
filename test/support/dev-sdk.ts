// The Azure SDK pointed at a running `iotmq dev` as a user points it: ClientSecretCredential against
// the identity stand-in (authorityHost = ours, instance discovery off) and ResourceManagementClient
// against the front door, both trusting the dev CA per request — TLS verification is never turned
// off. One place for the ARM integration harness, the e2e dev stack and the reconcile benchmark.
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { caTrustOptions } from '../../src/arm/ca-trust.js';
import type { DevConfig } from '../../src/cli/dev.js';

/** What the SDK needs of a dev cloud: its dev.json and CA (DevHandles has both). */
export interface DevCloud {
  config: DevConfig;
  caPem: string;
}

export interface ServicePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export const ARM_SCOPE = 'https://management.azure.com/.default';

/** A service principal's credential from the identity stand-in; the dev user's unless told otherwise. */
export function devCredential(dev: DevCloud, principal: Partial<ServicePrincipal> = {}): ClientSecretCredential {
  const { config } = dev;
  const { tenantId, clientId, clientSecret } = {
    tenantId: config.tenantId,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    ...principal,
  };
  return new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost: config.authorityHost,
    disableInstanceDiscovery: true,
    ...caTrustOptions(dev.caPem),
  });
}

/** The local cluster's agent principal (its tokens are for the RP's agent API). */
export function agentCredential(dev: DevCloud): ClientSecretCredential {
  return devCredential(dev, { clientId: dev.config.agent.clientId, clientSecret: dev.config.agent.clientSecret });
}

/** ARM through the front door, as the dev user by default. */
export function devArmClient(dev: DevCloud, credential = devCredential(dev)): ResourceManagementClient {
  return new ResourceManagementClient(credential, dev.config.subscriptionId, {
    endpoint: dev.config.armEndpoint,
    credentialScopes: [ARM_SCOPE],
    ...caTrustOptions(dev.caPem),
  });
}
