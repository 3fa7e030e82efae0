// `iotmq agent`: holds the RP's feed for one cluster and applies its resources as custom resources
// on the Kubernetes API (kubeconfig or in-cluster), reporting their status back.
//
//   iotmq agent --rp-url https://rp.example --cluster-id /subscriptions/…/connectedClusters/c1 \
//     --namespace azure-iot-operations [--credential client-secret|workload-identity] [--kubeconfig FILE]
//   env: IOTMQ_RP_URL, IOTMQ_CLUSTER_ID, IOTMQ_NAMESPACE, AZURE_TENANT_ID, AZURE_CLIENT_ID,
//        AZURE_CLIENT_SECRET | AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST, KUBECONFIG
import { ClientSecretCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity';
import { createAgent } from '../../extension/agent/index.js';
import { createKubernetesCluster } from '../../extension/cluster/kubernetes.js';
import { componentLogger } from '../common/log.js';
import { parseAgentConfig, type AgentConfig } from './extension-config.js';
import { untilSignal } from './run-until-signal.js';

export function credentialFor(config: AgentConfig['credential']): TokenCredential {
  // A configured authority host is trusted as given: MSAL's instance discovery asks
  // login.microsoftonline.com about it, which knows nothing of a private authority (the dev
  // stand-in, Azure Stack) and fails the token request with endpoints_resolution_error.
  const authority = config.authorityHost ? { authorityHost: config.authorityHost, disableInstanceDiscovery: true } : {};
  if (config.kind === 'workload-identity') {
    return new WorkloadIdentityCredential({
      tenantId: config.tenantId,
      clientId: config.clientId,
      tokenFilePath: config.tokenFilePath,
      ...authority,
    });
  }
  return new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, authority);
}

export async function runAgent(args: string[]): Promise<void> {
  const config = parseAgentConfig(args);
  const log = componentLogger('cli.agent');
  const cluster = createKubernetesCluster({ kubeconfigPath: config.kubeconfigPath });
  const agent = createAgent({
    rpUrl: config.rpUrl,
    clusterId: config.clusterId,
    namespace: config.namespace,
    credential: credentialFor(config.credential),
    scope: config.tokenScope,
    ca: config.rpCa,
    cluster,
  });
  log.info(
    {
      rpUrl: config.rpUrl,
      clusterId: config.clusterId,
      namespace: config.namespace,
      credential: config.credential.kind,
    },
    'agent started',
  );
  const signal = await untilSignal();
  log.info({ signal }, 'stopping');
  await agent.stop();
}
