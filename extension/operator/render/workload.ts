// The Kubernetes objects a broker runs as: its Deployment (with the config and every referenced
// Secret and ConfigMap mounted where the broker config says) and Services.
import { mountPath } from '../../../src/api/broker-config.js';
import { BROKER_NODE_OPTIONS } from '../../broker/node-options.js';
import type { KubeObject, OwnerReference } from '../../cluster/index.js';
import { BROKER_CONFIG_KEY, INSTANCE_LABEL, NAME_LABEL } from '../constants.js';
import type { Layout } from '../plan.js';
import { configMapName } from './common.js';

const SERVICE_TYPES: Record<string, string> = {
  clusterIp: 'ClusterIP',
  loadBalancer: 'LoadBalancer',
  nodePort: 'NodePort',
};

export interface ServiceOptions {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  owner: OwnerReference[];
  /** The API's serviceType (clusterIp, loadBalancer, nodePort). */
  type: string | undefined;
  ports: { name: string; port: number; nodePort?: number }[];
}

export function service(options: ServiceOptions): KubeObject {
  const { namespace, name, labels, owner, ports } = options;
  const serviceType = SERVICE_TYPES[options.type ?? 'clusterIp'] ?? 'ClusterIP';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels, ownerReferences: owner },
    spec: {
      type: serviceType,
      selector: { [INSTANCE_LABEL]: labels[INSTANCE_LABEL]!, [NAME_LABEL]: labels[NAME_LABEL]! },
      ports: ports.map((p) => ({
        name: p.name,
        port: p.port,
        targetPort: p.port,
        protocol: 'TCP',
        ...(serviceType === 'NodePort' && p.nodePort ? { nodePort: p.nodePort } : {}),
      })),
    },
  };
}

export interface BrokerDeploymentOptions {
  namespace: string;
  /** The broker CR's name: its config ConfigMap and data directory are named after it. */
  broker: string;
  /** The Deployment's name. */
  name: string;
  labels: Record<string, string>;
  owner: OwnerReference[];
  replicas: number;
  image: string;
  layout: Layout;
  /** Secrets and ConfigMaps the broker config references, each mounted as a directory. */
  secrets: string[];
  configMaps: string[];
  ports: number[];
}

export function brokerDeployment(options: BrokerDeploymentOptions): KubeObject {
  const { namespace, broker, name, labels, owner, layout, secrets, configMaps } = options;
  const selector = { [INSTANCE_LABEL]: labels[INSTANCE_LABEL]!, [NAME_LABEL]: labels[NAME_LABEL]! };
  const volume = (prefix: string, n: string) => `${prefix}-${n}`.slice(0, 63);
  const configDir = mountPath(layout.configMapsDir, configMapName(broker));
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels, ownerReferences: owner },
    spec: {
      replicas: options.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'broker',
              image: options.image,
              args: ['broker', '--config', `${configDir}/${BROKER_CONFIG_KEY}`],
              env: [{ name: 'NODE_OPTIONS', value: BROKER_NODE_OPTIONS }],
              ports: options.ports.map((port) => ({ containerPort: port, protocol: 'TCP' })),
              volumeMounts: [
                { name: 'config', mountPath: configDir, readOnly: true },
                ...secrets.map((s) => ({
                  name: volume('secret', s),
                  mountPath: mountPath(layout.secretsDir, s),
                  readOnly: true,
                })),
                ...configMaps.map((c) => ({
                  name: volume('configmap', c),
                  mountPath: mountPath(layout.configMapsDir, c),
                  readOnly: true,
                })),
                { name: 'data', mountPath: mountPath(layout.dataDir, broker) },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: configMapName(broker) } },
            ...secrets.map((s) => ({ name: volume('secret', s), secret: { secretName: s } })),
            ...configMaps.map((c) => ({ name: volume('configmap', c), configMap: { name: c } })),
            { name: 'data', emptyDir: {} },
          ],
        },
      },
    },
  };
}
