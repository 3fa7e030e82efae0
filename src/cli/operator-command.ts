// `iotmq operator`: reconciles the mq custom resources of one namespace of a Kubernetes API into
// workloads — as Kubernetes objects (--driver kubernetes, what the Helm chart runs) or as processes
// on this machine (--driver local).
//
//   iotmq operator --namespace azure-iot-operations [--driver kubernetes|local] [--image REF]
//     [--kubeconfig FILE] [--data-dir DIR]
import path from 'node:path';
import { createKubernetesCluster } from '../../extension/cluster/kubernetes.js';
import {
  createKubernetesDriver,
  createLocalDriver,
  createOperator,
  type Driver,
} from '../../extension/operator/index.js';
import type { ClusterClient } from '../../extension/cluster/index.js';
import { componentLogger } from '../common/log.js';
import { parseOperatorConfig, type OperatorConfig } from './extension-config.js';
import { untilSignal } from './run-until-signal.js';

export function driverFor(config: OperatorConfig, cluster: ClusterClient): Driver {
  if (config.driver === 'local') return createLocalDriver({ dir: path.resolve(config.dataDir), cluster });
  return createKubernetesDriver({ cluster, namespace: config.namespace });
}

export async function runOperator(args: string[]): Promise<void> {
  const config = parseOperatorConfig(args);
  const log = componentLogger('cli.operator');
  const cluster = createKubernetesCluster({ kubeconfigPath: config.kubeconfigPath });
  const driver = driverFor(config, cluster);
  const operator = createOperator({ cluster, driver, namespace: config.namespace, image: config.image });
  await operator.ready;
  log.info({ namespace: config.namespace, driver: config.driver, image: config.image }, 'operator started');
  process.stdout.write(`iotmq operator: watching namespace ${config.namespace} (driver ${config.driver})\n`);
  const signal = await untilSignal();
  log.info({ signal }, 'stopping');
  await operator.stop();
  await driver.stop();
}
