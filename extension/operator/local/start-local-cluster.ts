// Everything `iotmq dev` runs for its local cluster: the embedded cluster API, the agent holding
// the RP's feed for it, and the operator with the local driver — the same agent and operator code
// the Helm chart runs on Kubernetes.
import path from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { createAgent, type Agent } from '../../agent/index.js';
import { createLocalCluster, type LocalCluster } from '../../cluster/index.js';
import { createLocalDriver, type LocalDriver } from '../drivers/local.js';
import { createOperator, type Operator } from '../operator.js';

export interface LocalClusterOptions {
  /** cluster.db and the driver's files, logs and broker data go under here. */
  dataDir: string;
  rpUrl: string;
  clusterId: string;
  /** The custom location's namespace. */
  namespace: string;
  credential: TokenCredential;
  /** Token scope for the RP (default ARM's). */
  scope?: string;
  /** CA (PEM) of the RP's certificate when it is not publicly trusted. */
  ca?: string;
}

export interface LocalClusterHandles {
  cluster: LocalCluster;
  agent: Agent;
  operator: Operator;
  driver: LocalDriver;
  /** Directory of the driver (configmaps/, secrets/, data/, logs/). */
  driverDir: string;
  stop(): Promise<void>;
}

/** Where the local driver of a local cluster in `dataDir` keeps its files, logs, data and pid records. */
export const workloadsDirOf = (dataDir: string) => path.join(dataDir, 'workloads');

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalClusterHandles> {
  const cluster = createLocalCluster({ dataDir: path.join(options.dataDir, 'cluster') });
  const driverDir = workloadsDirOf(options.dataDir);
  const driver = createLocalDriver({ dir: driverDir, cluster });
  const operator = createOperator({ cluster, driver, namespace: options.namespace });
  await operator.ready;
  const agent = createAgent({
    rpUrl: options.rpUrl,
    clusterId: options.clusterId,
    namespace: options.namespace,
    credential: options.credential,
    cluster,
    scope: options.scope,
    ca: options.ca,
  });
  return {
    cluster,
    agent,
    operator,
    driver,
    driverDir,
    async stop() {
      await agent.stop();
      await operator.stop();
      await driver.stop();
      cluster.close();
    },
  };
}
