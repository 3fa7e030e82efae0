// The operator: watches the MQ custom resources (and the Secrets/ConfigMaps they reference) and
// reconciles a namespace at a time — level-triggered: read current state, render, let the driver
// converge, write Ready conditions. The namespace is the queue key because its CRs reference each
// other by name and its listeners share ports: only the whole set decides BrokerNotFound or PortConflict.
import { componentLogger } from '../../src/common/log.js';
import { crObjectType } from '../../src/api/custom-resources.js';
import {
  createInformer,
  createKeyedQueue,
  type ClusterClient,
  type Informer,
  type KubeObject,
  type ObjectType,
} from '../cluster/index.js';
import { readyConditionOf } from '../../src/api/conditions.js';
import { readyCondition, sameCondition } from './conditions.js';
import { OPERATOR_FIELD_MANAGER, OPERATOR_FINALIZER, RECONCILED_KINDS } from './constants.js';
import type { Driver } from './plan.js';
import { render, verdictKey } from './render/index.js';

export interface OperatorOptions {
  cluster: ClusterClient;
  driver: Driver;
  /** Watch one namespace (the custom location's) or all. */
  namespace?: string;
  /** Container image of iotmq for rendered workloads. */
  image?: string;
  /** Safety-net requeue while something is still starting. */
  resyncMs?: number;
}

export interface Operator {
  readonly ready: Promise<void>;
  idle(): Promise<void>;
  stop(): Promise<void>;
}

const SECRET: ObjectType = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
const CONFIG_MAP: ObjectType = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };

export function createOperator(options: OperatorOptions): Operator {
  const log = componentLogger('operator');
  const { cluster, driver } = options;
  const image = options.image ?? 'ghcr.io/iotmq/iotmq:0.1.0';
  const resyncMs = options.resyncMs ?? 2_000;
  const queue = createKeyedQueue((namespace) => reconcile(namespace), {
    concurrency: 2,
    onError: (namespace, error) => log.warn({ namespace, err: error }, 'reconcile failed: retrying'),
  });
  const enqueue = (object: KubeObject) => queue.add(object.metadata.namespace ?? '');
  const watch = (type: ObjectType) =>
    createInformer({ client: cluster, type, namespace: options.namespace, log, upsert: enqueue, remove: enqueue });
  const crInformers = RECONCILED_KINDS.map((kind) => watch(crObjectType(kind)));
  const secrets = watch(SECRET);
  const configMaps = watch(CONFIG_MAP);
  const informers: Informer[] = [...crInformers, secrets, configMaps];
  const ready = Promise.all(informers.map((i) => i.ready)).then(() => undefined);
  driver.onChange((namespace) => queue.add(namespace));

  async function reconcile(namespace: string) {
    await ready;
    const crs = crInformers.flatMap((i) => i.list()).filter((cr) => (cr.metadata.namespace ?? '') === namespace);
    const live = crs.filter((cr) => !cr.metadata.deletionTimestamp);
    const deleting = crs.filter((cr) => cr.metadata.deletionTimestamp);

    // The finalizer goes on before any workload exists, so a delete always finds us.
    for (const cr of live) {
      if (cr.metadata.finalizers?.includes(OPERATOR_FINALIZER)) continue;
      await cluster.apply(
        {
          apiVersion: cr.apiVersion,
          kind: cr.kind,
          metadata: { name: cr.metadata.name, namespace, finalizers: [OPERATOR_FINALIZER] },
        },
        { fieldManager: OPERATOR_FIELD_MANAGER },
      );
    }

    const names = (informer: Informer) =>
      new Set(
        informer
          .list()
          .filter((o) => (o.metadata.namespace ?? '') === namespace)
          .map((o) => o.metadata.name),
      );
    const ports = live.flatMap((cr) => {
      if (cr.kind === 'BrokerListener') return [(cr.spec as { port: number }).port];
      if (cr.kind === 'DiagnosticService') return [(cr.spec as { metricsPort?: number }).metricsPort ?? 9600];
      return [];
    });
    const portsInUse = await driver.portsInUse(namespace, ports);
    const plan = render({
      namespace,
      crs: live,
      secrets: names(secrets),
      configMaps: names(configMaps),
      portsInUse,
      layout: driver.layout,
      image,
    });
    const outcome = await driver.apply(plan);

    let waiting = false;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    for (const cr of live) {
      const verdict = plan.verdicts.get(verdictKey(cr));
      const previous = readyConditionOf(cr.status);
      const generation = cr.metadata.generation ?? 1;
      const condition = readyCondition(verdict, outcome, generation, previous, now);
      if (condition.status !== 'True' && condition.severity !== 'Error') waiting = true;
      if (sameCondition(previous, condition) && cr.status?.observedGeneration === generation) continue;
      await cluster.patchStatus(
        crObjectType(cr.kind),
        namespace,
        cr.metadata.name,
        { observedGeneration: generation, conditions: [condition] },
        { fieldManager: OPERATOR_FIELD_MANAGER, force: true },
      );
      log.info(
        { namespace, kind: cr.kind, name: cr.metadata.name, status: condition.status, reason: condition.reason },
        'status',
      );
    }
    // Workloads of deleted CRs are gone (the driver applied a plan without them): release them.
    for (const cr of deleting) {
      if (cr.metadata.finalizers?.includes(OPERATOR_FINALIZER))
        await cluster.removeFinalizer(crObjectType(cr.kind), namespace, cr.metadata.name, OPERATOR_FINALIZER);
    }
    return waiting ? { requeueAfterMs: resyncMs } : undefined;
  }

  return {
    ready,
    idle: () => queue.idle(),
    async stop() {
      queue.stop();
      for (const informer of informers) informer.stop();
    },
  };
}
