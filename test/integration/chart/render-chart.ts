// Renders extension/chart with the real helm (test/peers/helm.sh) and parses the manifests.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../extension/cluster/index.js';
import { runHelm } from '../../peers/helm.js';

const here = dirname(fileURLToPath(import.meta.url));
export const CHART_DIR = join(here, '../../../extension/chart');

export const VALUES = {
  rpEndpoint: 'https://rp.example.test',
  clusterId:
    '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/edge',
  'identity.tenantId': 'tenant-1',
  'identity.clientId': 'client-1',
  'identity.clientSecret': 's3cret',
  'image.tag': '9.9.9',
};

export function setArgs(values: Record<string, string | boolean>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set-string', `${key}=${value}`]);
}

export async function renderChart(
  helm: string,
  namespace: string,
  values: Record<string, string> = VALUES,
  extra: string[] = [],
): Promise<KubeObject[]> {
  const result = await runHelm(helm, [
    'template',
    'iotmq',
    CHART_DIR,
    '--namespace',
    namespace,
    ...setArgs(values),
    ...extra,
  ]);
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o);
}
