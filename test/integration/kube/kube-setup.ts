// What every Kubernetes-backed test needs on the bare API server of test/peers/kube: a client on
// its kubeconfig, the chart's CRDs installed and Established, and namespaces (no controller-manager
// creates them). Established is awaited through a watch, not by polling.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { createKubernetesCluster, type KubernetesCluster } from '../../../extension/cluster/kubernetes.js';
import { createInformer, type Informer, type KubeObject, type ObjectType } from '../../../extension/cluster/index.js';
import type { KubeFixture } from '../../peers/kube/fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
export const CRD_DIR = join(here, '../../../extension/chart/crds');
export const CRD: ObjectType = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
};
export const NAMESPACE: ObjectType = { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' };

export function kubeClient(kube: KubeFixture): KubernetesCluster {
  return createKubernetesCluster({ kubeconfigPath: kube.kubeconfigPath });
}

export async function chartCrds(): Promise<KubeObject[]> {
  const files = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).sort();
  const crds: KubeObject[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(CRD_DIR, file), 'utf8'))) {
      const crd = doc.toJS() as KubeObject | null;
      if (crd?.kind === 'CustomResourceDefinition') crds.push(crd);
    }
  }
  return crds;
}

const established = (crd: KubeObject) =>
  ((crd.status?.conditions ?? []) as { type: string; status: string }[]).some(
    (c) => c.type === 'Established' && c.status === 'True',
  );

/** Applies every chart CRD and resolves once the API server reports each Established. */
export async function installCrds(client: KubernetesCluster): Promise<void> {
  const crds = await chartCrds();
  const start = await client.list(CRD);
  const waiting = new Set(crds.map((crd) => crd.metadata.name));
  for (const crd of start.items) if (established(crd)) waiting.delete(crd.metadata.name);
  const abort = new AbortController();
  const events = client.watch(CRD, { resourceVersion: start.resourceVersion, signal: abort.signal });
  for (const crd of crds) {
    const applied = await client.apply(crd, { fieldManager: 'iotmq-test', force: true });
    if (established(applied)) waiting.delete(crd.metadata.name);
  }
  const deadline = setTimeout(() => abort.abort(), 30_000);
  try {
    if (waiting.size) {
      for await (const event of events) {
        if (event.type !== 'BOOKMARK' && established(event.object)) waiting.delete(event.object.metadata.name);
        if (waiting.size === 0) break;
      }
    }
    if (waiting.size) throw new Error(`CRDs not Established: ${[...waiting].join(', ')}`);
  } finally {
    clearTimeout(deadline);
    abort.abort();
  }
}

export async function createNamespace(client: KubernetesCluster, name: string): Promise<void> {
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { fieldManager: 'iotmq-test' });
}

const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' } as const;

/**
 * Stand-in for the Deployment controller + kubelet (none run on the fixture): every Deployment in
 * `namespace` reports all its replicas ready, so the operator's readiness — which waits for that —
 * can be reached. Used by test/integration/kube and test/e2e alike.
 */
export function deploymentController(client: KubernetesCluster, namespace: string): Informer {
  return createInformer({
    client,
    type: DEPLOYMENT,
    namespace,
    upsert: (deployment: KubeObject) => {
      const replicas = (deployment.spec as { replicas?: number }).replicas ?? 1;
      const status = (deployment.status ?? {}) as { observedGeneration?: number; readyReplicas?: number };
      if (status.observedGeneration === deployment.metadata.generation && (status.readyReplicas ?? 0) === replicas)
        return;
      const ready = {
        observedGeneration: deployment.metadata.generation,
        replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        updatedReplicas: replicas,
      };
      void client
        .patchStatus(DEPLOYMENT, namespace, deployment.metadata.name, ready, {
          fieldManager: 'kube-controller-manager',
        })
        .catch(() => undefined);
    },
  });
}
