export { createOperator, type Operator, type OperatorOptions } from './operator.js';
export { render, verdictKey, configMapName, workloadName, type RenderInput } from './render/index.js';
export {
  createLocalDriver,
  reclaimLocalWorkloads,
  type LocalDriver,
  type LocalDriverOptions,
} from './drivers/local.js';
export type { Driver, Layout, Plan, PlanOutcome, Verdict } from './plan.js';
export * from './constants.js';
export {
  startLocalCluster,
  workloadsDirOf,
  type LocalClusterHandles,
  type LocalClusterOptions,
} from './local/start-local-cluster.js';
export { createKubernetesDriver, CONTAINER_LAYOUT, type KubernetesDriverOptions } from './drivers/kubernetes.js';
