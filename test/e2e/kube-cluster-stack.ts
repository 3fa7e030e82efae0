// A second, Kubernetes-backed connected cluster for `iotmq dev`: registered through the front door
// with the Azure SDK, the Arc extension "installed" from the Helm chart onto the real kube-apiserver of
// test/peers/kube, and the chart's two containers (agent, operator) run as child processes — the test
// plays the kubelet. Only what a kubelet would do is done here: resolve env from Secrets, mount
// ConfigMaps as files, hand the container its ServiceAccount's token (TokenRequest). Nothing the
// agent or operator does is bypassed.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResourceManagementClient } from '@azure/arm-resources';
import { stringify as toYaml } from 'yaml';
import type { KubeObject } from '../../extension/cluster/index.js';
import type { KubernetesCluster } from '../../extension/cluster/kubernetes.js';
import { deploymentController } from '../integration/kube/kube-setup.js';
import { API_AUDIENCE, kubeRequest, type KubeFixture } from '../peers/kube/fixture.js';
import { renderChart } from '../integration/chart/render-chart.js';
import type { DevStack } from './dev-stack.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface EdgeCluster {
  clusterId: string;
  customLocationId: string;
  /** The agent's service principal: its tokens carry `xms_mirid` = clusterId. */
  agent: { clientId: string; clientSecret: string };
}

/**
 * Connected cluster + custom location through ARM (as `az connectedk8s connect` and
 * `az customlocation create` would), and the agent's identity. The stand-in's directory has no
 * HTTP API for principals (real AAD would be Microsoft Graph), so the principal is made the way
 * `startDev()` makes the local cluster's agent: `identity.createServicePrincipal` with the
 * cluster's id as its managed-identity resource id.
 */
export async function registerEdgeCluster(
  stack: DevStack,
  client: ResourceManagementClient,
  names: { cluster: string; customLocation: string; namespace: string },
): Promise<EdgeCluster> {
  const { config } = stack.dev;
  const group = `/subscriptions/${config.subscriptionId}/resourceGroups/${config.resourceGroup}`;
  const clusterId = `${group}/providers/Microsoft.Kubernetes/connectedClusters/${names.cluster}`;
  const customLocationId = `${group}/providers/Microsoft.ExtendedLocation/customLocations/${names.customLocation}`;
  await client.resources.beginCreateOrUpdateByIdAndWait(clusterId, '2024-01-01', {
    location: config.location,
    properties: { distribution: 'kube-apiserver', infrastructure: 'generic' },
  } as never);
  await client.resources.beginCreateOrUpdateByIdAndWait(customLocationId, '2021-08-15', {
    location: config.location,
    properties: { hostResourceId: clusterId, namespace: names.namespace, hostType: 'Kubernetes' },
  } as never);
  const { principal, clientSecret } = await stack.dev.frontDoor.identity.createServicePrincipal({
    tenantId: config.tenantId,
    displayName: `iotmq agent (${names.cluster})`,
    managedIdentityResourceId: clusterId,
  });
  return { clusterId, customLocationId, agent: { clientId: principal.clientId, clientSecret } };
}

/**
 * `helm install` without a kubelet: renders the chart with `values` and applies everything but the
 * Deployments (nothing would ever run them); returns those so `runContainer` can run them instead.
 */
export async function installChart(
  helm: string,
  admin: KubernetesCluster,
  namespace: string,
  values: Record<string, string>,
): Promise<{ agent: KubeObject; operator: KubeObject }> {
  const rendered = await renderChart(helm, namespace, values);
  for (const object of rendered) {
    if (object.kind !== 'Deployment') await admin.apply(object, { fieldManager: 'helm', force: true });
  }
  const deployment = (component: string) => {
    const found = rendered.find(
      (o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === component,
    );
    if (!found) throw new Error(`the chart renders no ${component} Deployment`);
    return found;
  };
  return { agent: deployment('agent'), operator: deployment('operator') };
}

/** A kubeconfig holding a bound token of `serviceAccount` (TokenRequest), as a pod's projected token would. */
export async function serviceAccountKubeconfig(
  kube: KubeFixture,
  namespace: string,
  serviceAccount: string,
  file: string,
): Promise<string> {
  const response = await kubeRequest(
    kube,
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [API_AUDIENCE], expirationSeconds: 3600 },
    },
  );
  if (response.status !== 201)
    throw new Error(`TokenRequest for ${serviceAccount}: ${response.status} ${response.text}`);
  await writeFile(
    file,
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'kube', cluster: { server: kube.server, 'certificate-authority': kube.caFile } }],
      users: [{ name: serviceAccount, user: { token: response.body.status.token } }],
      contexts: [{ name: 'sa', context: { cluster: 'kube', user: serviceAccount } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  return file;
}

export interface Container {
  name: string;
  child: ChildProcess;
  /** stdout + stderr so far (for failure messages). */
  output(): string;
  /** SIGTERM (or `signal`) and wait for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The kubelet's part for one Deployment's first container: env from values and secretKeyRefs,
 * ConfigMap volumes written under `dir` (and their mount paths in args rewritten to there), the
 * ServiceAccount token via KUBECONFIG, then `iotmq <args>` from source (tsx, like
 * operator-command.test.ts: CI has no dist). `extraEnv` is what the image would provide (the CA
 * bundle: NODE_EXTRA_CA_CERTS).
 */
export async function runContainer(
  deployment: KubeObject,
  options: { admin: KubernetesCluster; dir: string; kubeconfig: string; extraEnv?: Record<string, string> },
): Promise<Container> {
  const spec = (deployment.spec as any).template.spec;
  const container = spec.containers[0];
  const namespace = deployment.metadata.namespace!;
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef) {
      const ref = entry.valueFrom.secretKeyRef;
      const secret = await options.admin.get(
        { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' },
        namespace,
        ref.name,
      );
      const data = (secret?.data ?? {}) as Record<string, string>;
      if (data[ref.key] === undefined) throw new Error(`secret ${ref.name} has no key ${ref.key}`);
      env[entry.name] = Buffer.from(data[ref.key]!, 'base64').toString('utf8');
    }
  }
  let args: string[] = [...container.args];
  for (const mount of container.volumeMounts ?? []) {
    const volume = (spec.volumes ?? []).find((v: { name: string }) => v.name === mount.name);
    if (!volume?.configMap) throw new Error(`volume ${mount.name}: only ConfigMap volumes are mounted here`);
    const local = path.join(options.dir, container.name, mount.name);
    await mkdir(local, { recursive: true });
    const map = await options.admin.get(
      { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
      namespace,
      volume.configMap.name,
    );
    if (!map) throw new Error(`ConfigMap ${volume.configMap.name} does not exist (the pod would not start)`);
    for (const [key, value] of Object.entries((map.data ?? {}) as Record<string, string>))
      await writeFile(path.join(local, key), value);
    args = args.map((arg) => arg.replaceAll(mount.mountPath, local));
  }
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    env: { ...process.env, ...env, ...options.extraEnv, KUBECONFIG: options.kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (d: string) => {
    out = (out + d).slice(-20_000); // the tail is what explains a failure
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    name: container.name,
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

export { deploymentController };
