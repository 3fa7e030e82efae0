// The Kubernetes driver: the plan becomes API objects. Every planned object is server-side
// applied with field manager `iotmq-operator` (so the API server keeps what we own apart from what
// others set, and an unchanged plan is a no-op: no write, no new resourceVersion); everything in
// the namespace carrying our managed-by label that the plan no longer holds is deleted (prune).
// Readiness comes from what the cluster reports: a Deployment/StatefulSet is ready when its
// controller says its replicas are (no kubelet, no readiness); a Service once it exists.
import { componentLogger } from '../../../src/common/log.js';
import {
  createInformer,
  objectKey,
  type ClusterClient,
  type Informer,
  type KubeObject,
  type ObjectType,
} from '../../cluster/index.js';
import { MANAGED_BY, MANAGED_BY_LABEL, OPERATOR_FIELD_MANAGER } from '../constants.js';
import type { Driver, Layout, Plan, PlanOutcome, WorkloadState } from '../plan.js';

export interface KubernetesDriverOptions {
  cluster: ClusterClient;
  /** Watch workloads of one namespace (the operator's) or all. */
  namespace?: string;
}

/** Kinds a plan may hold, in apply order (what is mounted or selected exists before its user). */
export const PLANNED_TYPES: readonly ObjectType[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
];
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet']);
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

/** Paths inside the broker container (the image's layout; see the Dockerfile). */
export const CONTAINER_LAYOUT: Layout = {
  configMapsDir: '/etc/iotmq/configmaps',
  secretsDir: '/etc/iotmq/secrets',
  dataDir: '/var/lib/iotmq',
  bindAddress: '0.0.0.0',
  // a pod's own service account reaches the API server (the broker's TokenReviews for `sat`)
  kubernetes: {
    tokenReviewUrl: 'https://kubernetes.default.svc',
    caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
  },
};

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- Kubernetes manifests

/** What the workload's controller reports, read from status only (level-triggered, no guessing). */
export function workloadState(object: KubeObject | undefined): WorkloadState {
  if (!object) return { ready: false, message: 'Not created yet.' };
  const spec = (object.spec ?? {}) as Any;
  const status = (object.status ?? {}) as Any;
  const wanted = (spec.replicas as number | undefined) ?? 1;
  if (wanted === 0) return { ready: true, message: 'Scaled to zero.' };
  const ready = (status.readyReplicas as number | undefined) ?? 0;
  const current = (status.observedGeneration as number | undefined) === object.metadata.generation;
  if (current && ready >= wanted) return { ready: true, message: `${ready}/${wanted} replicas ready.` };
  return { ready: false, message: `${object.kind} ${object.metadata.name}: ${ready}/${wanted} replicas ready.` };
}

export function createKubernetesDriver(options: KubernetesDriverOptions): Driver {
  const log = componentLogger('operator.kubernetes-driver');
  const { cluster } = options;
  const listeners: ((namespace: string) => void)[] = [];
  const changed = (object: KubeObject) => listeners.forEach((listener) => listener(object.metadata.namespace ?? ''));
  // Our workloads' status changes (replicas becoming ready) requeue their namespace.
  const workloads: Informer[] = PLANNED_TYPES.filter((t) => WORKLOAD_KINDS.has(t.kind)).map((type) =>
    createInformer({
      client: cluster,
      type,
      namespace: options.namespace,
      labelSelector: MANAGED_SELECTOR,
      log,
      upsert: changed,
      remove: changed,
    }),
  );

  return {
    layout: CONTAINER_LAYOUT,

    // Ports are per pod on Kubernetes: nothing else on "the machine" can hold them.
    async portsInUse() {
      return new Set<number>();
    },

    async apply(plan: Plan): Promise<PlanOutcome> {
      const { namespace } = plan;
      const outcome: PlanOutcome = { workloads: new Map(), services: new Map() };
      const planned = new Set(plan.objects.map(objectKey));
      const order = (o: KubeObject) => PLANNED_TYPES.findIndex((t) => t.kind === o.kind);
      for (const object of [...plan.objects].sort((a, b) => order(a) - order(b))) {
        if (!object.metadata.labels?.[MANAGED_BY_LABEL])
          throw new Error(`planned ${objectKey(object)} lacks the ${MANAGED_BY_LABEL} label: it could never be pruned`);
        // force: these objects are the operator's; a hand edit of a field it sets is taken back.
        const applied = await cluster.apply(object, { fieldManager: OPERATOR_FIELD_MANAGER, force: true });
        if (WORKLOAD_KINDS.has(object.kind)) outcome.workloads.set(object.metadata.name, workloadState(applied));
        if (object.kind === 'Service')
          outcome.services.set(object.metadata.name, {
            ready: true,
            message: `Service ${object.metadata.name} exists.`,
          });
      }
      // Prune: ours by label, in this namespace, not in the plan. Workloads go first (they use the rest).
      for (const type of [...PLANNED_TYPES].reverse()) {
        const { items } = await cluster.list(type, { namespace, labelSelector: MANAGED_SELECTOR });
        for (const object of items) {
          if (planned.has(objectKey(object)) || object.metadata.deletionTimestamp) continue;
          log.info({ namespace, kind: object.kind, name: object.metadata.name }, 'pruning');
          await cluster.delete(type, namespace, object.metadata.name);
        }
      }
      return outcome;
    },

    onChange(listener) {
      listeners.push(listener);
    },

    async stop() {
      for (const informer of workloads) informer.stop();
    },
  };
}
