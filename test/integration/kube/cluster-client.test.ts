// The shared ClusterClient suite on the real API server (test/peers/kube) with the chart's CRDs:
// the same expectations the local cluster is held to in test/integration/operator/local-cluster.test.ts.
import { beforeAll, describe } from 'vitest';
import { useKube } from '../../peers/kube/fixture.js';
import { describeClusterClient } from '../operator/cluster-client-suite.js';
import { createNamespace, installCrds, kubeClient } from './kube-setup.js';
import type { KubernetesCluster } from '../../../extension/cluster/kubernetes.js';

describe('Kubernetes ClusterClient (real kube-apiserver)', () => {
  const kube = useKube();
  let client: KubernetesCluster;
  const namespace = 'suite';
  beforeAll(async () => {
    client = kubeClient(kube());
    await installCrds(client);
    await createNamespace(client, namespace);
  });
  describeClusterClient('kubernetes', { client: () => client, namespace: () => namespace });
});
