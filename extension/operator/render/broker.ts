// One Broker: its config file (typed by the contract in src/api/broker-config.ts) in a ConfigMap,
// its Deployment with every referenced Secret and ConfigMap mounted, a Service per listener, and the
// verdicts of the resources it serves.
import {
  authenticationReferences,
  listenerSecret,
  mountPath,
  type BrokerConfig,
  type BrokerSpec,
} from '../../../src/api/broker-config.js';
import type { KubeObject } from '../../cluster/index.js';
import { BROKER_CONFIG_KEY } from '../constants.js';
import { configMapName, labelsFor, ownerOf, workloadName, type Checked, type Verdicts } from './common.js';
import type { CheckedAuthentication, CheckedAuthorization } from './authentication.js';
import { diagnosticsObjects, type Diagnostics } from './diagnostics.js';
import type { RenderInput } from './index.js';
import type { Listeners } from './listener.js';
import { brokerDeployment, service } from './workload.js';

export interface BrokerRenderOptions {
  input: RenderInput;
  broker: Checked<BrokerSpec>;
  listeners: Listeners;
  authentications: CheckedAuthentication[];
  authorizations: CheckedAuthorization[];
  /** Set for the broker that serves the DiagnosticService's metrics. */
  diagnostics?: Required<Diagnostics>;
  verdicts: Verdicts;
}

export function renderBroker(options: BrokerRenderOptions): KubeObject[] {
  const { input, broker, verdicts } = options;
  const { namespace, layout } = input;
  const name = broker.name;
  const own = options.listeners.valid.filter((l) => l.spec.brokerRef === name);
  const ownNames = new Set(own.map((l) => l.name));
  const serves = (c: Checked<{ listenerRef: string[] }>) => c.spec.listenerRef.some((n) => ownNames.has(n));
  // An authentication or authorization applies to the listeners of this broker it names.
  const restrict = <T extends { listenerRef: string[] }>(c: Checked<T>) => ({
    name: c.name,
    spec: { ...c.spec, listenerRef: c.spec.listenerRef.filter((n) => ownNames.has(n)) },
  });
  const authentications = options.authentications.filter(serves);
  const authorizations = options.authorizations.filter(serves);
  const metricsPort = options.diagnostics?.metricsPort;
  // Exactly what the config references is mounted, through the same reference lists the broker reads.
  const refs = authentications.map((a) => authenticationReferences(a.spec));
  const secrets = sorted([...own.flatMap((l) => listenerSecret(l.spec) ?? []), ...refs.flatMap((r) => r.secrets)]);
  const configMaps = sorted(refs.flatMap((r) => r.configMaps));
  const config: BrokerConfig = {
    broker: { name, spec: broker.spec },
    listeners: own.map((l) => ({ name: l.name, spec: l.spec })),
    authentications: authentications.map(restrict),
    authorizations: authorizations.map(restrict),
    // each referenced Secret and ConfigMap, resolved to the directory its volume is mounted at
    mounts: {
      secrets: Object.fromEntries(secrets.map((s) => [s, mountPath(layout.secretsDir, s)])),
      configMaps: Object.fromEntries(configMaps.map((c) => [c, mountPath(layout.configMapsDir, c)])),
    },
    dataDir: `${layout.dataDir}/${name}`,
    bindAddress: layout.bindAddress,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(layout.kubernetes && authentications.some((a) => a.spec.authenticationMethods.some((m) => m.sat))
      ? { kubernetes: layout.kubernetes }
      : {}),
  };

  const labels = labelsFor(name);
  const owner = ownerOf(broker.cr);
  const workload = workloadName(name);
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: configMapName(name), namespace, labels, ownerReferences: owner },
      data: { [BROKER_CONFIG_KEY]: `${JSON.stringify(config, null, 2)}\n` },
    },
    brokerDeployment({
      namespace,
      broker: name,
      name: workload,
      labels,
      owner,
      // One process per broker until the distributed back end lands: independent replicas would
      // split sessions and subscriptions between them, so cardinality is not honoured yet.
      replicas: own.length ? 1 : 0,
      image: input.image,
      layout,
      secrets,
      configMaps,
      ports: [...own.map((l) => l.spec.port), ...(metricsPort !== undefined ? [metricsPort] : [])],
    }),
  ];

  for (const listener of own) {
    const { spec } = listener;
    const serviceName = options.listeners.serviceOf(listener);
    objects.push(
      service({
        namespace,
        name: serviceName,
        labels,
        owner: ownerOf(listener.cr),
        type: spec.serviceType,
        ports: [{ name: `${spec.tls ? 'mqtts' : 'mqtt'}-${spec.port}`, port: spec.port, nodePort: spec.nodePort }],
      }),
    );
    verdicts.set(listener.cr, {
      ok: true,
      services: [serviceName],
      workloads: [workload],
      message: `Listening on port ${spec.port}${spec.tls ? ' (TLS)' : ''}.`,
    });
  }
  for (const c of [...authentications, ...authorizations]) {
    const previous = verdicts.get(c.cr);
    const services = own.filter((l) => c.spec.listenerRef.includes(l.name)).map(options.listeners.serviceOf);
    verdicts.set(c.cr, {
      ok: true,
      services: [...(previous?.ok ? previous.services : []), ...services],
      workloads: [...(previous?.ok ? previous.workloads : []), workload],
      message: 'Applied to the broker configuration.',
    });
  }
  verdicts.set(
    broker.cr,
    own.length
      ? { ok: true, services: [], workloads: [workload], message: `Running with ${own.length} listener(s).` }
      : { ok: true, services: [], workloads: [], message: 'No listeners yet: nothing runs.' },
  );
  if (options.diagnostics)
    objects.push(...diagnosticsObjects(input, options.diagnostics, { name, labels, workload }, verdicts));
  return objects;
}

const sorted = (names: string[]) => [...new Set(names)].sort();
