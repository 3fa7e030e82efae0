// render(CRs of a namespace) → plan: the broker config file in a ConfigMap, one Service per
// listener, a Deployment per broker, and a verdict per CR. Pure: same input, same plan; the
// drivers (kubernetes, local) decide only how the plan becomes real.
import { BROKER_NODE_OPTIONS } from '../broker/node-options.js';
import type { KubeObject, OwnerReference } from '../cluster/index.js';
import { BROKER_CONFIG_KEY, INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, REASONS } from './constants.js';
import type { Layout, Plan, Verdict } from './plan.js';

export interface RenderInput {
  namespace: string;
  /** The reconciled CRs of the namespace that are not being deleted. */
  crs: KubeObject[];
  /** Names of the namespace's Secrets and ConfigMaps (referenced ones must exist). */
  secrets: ReadonlySet<string>;
  configMaps: ReadonlySet<string>;
  /** Ports something else on the machine holds (the local driver's report; empty on Kubernetes). */
  portsInUse: ReadonlySet<number>;
  layout: Layout;
  /** Container image of `iotmq` (broker and operator are the same binary). */
  image: string;
}

type Spec = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- CR specs are the API's JSON

const DEFAULT_SERVICE_NAME = 'aio-mq-dmqtt-frontend';
const DIAGNOSTICS_SERVICE_NAME = 'aio-mq-diagnostics-service';

export const verdictKey = (cr: Pick<KubeObject, 'kind' | 'metadata'>) => `${cr.kind}/${cr.metadata.name}`;
export const configMapName = (broker: string) => `${broker}-config`;
export const workloadName = (broker: string) => `${broker}-frontend`;

const byAge = (a: KubeObject, b: KubeObject) =>
  (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
  a.metadata.name.localeCompare(b.metadata.name);

function isReady(cr: KubeObject): boolean {
  const conditions = (cr.status?.conditions ?? []) as { type?: string; status?: string }[];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

function ownerOf(cr: KubeObject): OwnerReference[] {
  return [
    {
      apiVersion: cr.apiVersion,
      kind: cr.kind,
      name: cr.metadata.name,
      uid: cr.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

function labelsFor(broker: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [INSTANCE_LABEL]: broker, [NAME_LABEL]: 'iotmq-broker' };
}

export function render(input: RenderInput): Plan {
  const { namespace, layout } = input;
  const of = (kind: string) => input.crs.filter((cr) => cr.kind === kind).sort(byAge);
  const brokers = of('Broker');
  // A listener that already serves its port keeps it: creation timestamps have one-second
  // resolution, so age alone cannot tell which of two listeners made within a second came first.
  const listeners = of('BrokerListener').sort((a, b) => Number(isReady(b)) - Number(isReady(a)) || byAge(a, b));
  const authentications = of('BrokerAuthentication');
  const authorizations = of('BrokerAuthorization');
  const diagnostics = of('DiagnosticService');
  const verdicts = new Map<string, Verdict>();
  const objects: KubeObject[] = [];
  const fail = (cr: KubeObject, reason: string, message: string) =>
    verdicts.set(verdictKey(cr), { ok: false, reason, message });

  // Listeners: first come first served on ports; everything they reference must exist.
  const valid: KubeObject[] = [];
  const portOwner = new Map<number, string>();
  const serviceNameCount = new Map<string, number>();
  for (const l of listeners) serviceNameCount.set(serviceNameOf(l), (serviceNameCount.get(serviceNameOf(l)) ?? 0) + 1);
  for (const listener of listeners) {
    const spec = listener.spec as Spec;
    const port = spec.port as number;
    if (!brokers.some((b) => b.metadata.name === spec.brokerRef)) {
      fail(listener, REASONS.BrokerNotFound, `Broker '${spec.brokerRef}' does not exist in namespace '${namespace}'.`);
      continue;
    }
    const holder = portOwner.get(port);
    if (holder) {
      fail(listener, REASONS.PortConflict, `Port ${port} is already used by listener '${holder}'.`);
      continue;
    }
    if (spec.tls?.keyVault) {
      fail(
        listener,
        REASONS.Unsupported,
        'TLS from Key Vault is not supported by iotmq; use tls.automatic or tls.manual.',
      );
      continue;
    }
    const tlsSecret = spec.tls?.manual?.secretName as string | undefined;
    if (tlsSecret && !input.secrets.has(tlsSecret)) {
      fail(
        listener,
        REASONS.SecretNotFound,
        `TLS secret '${tlsSecret}' does not exist in namespace '${namespace}'; the listener starts once it does.`,
      );
      continue;
    }
    if (input.portsInUse.has(port)) {
      fail(listener, REASONS.PortInUse, `Port ${port} is already in use on this machine by another process.`);
      continue;
    }
    portOwner.set(port, listener.metadata.name);
    valid.push(listener);
  }
  const allNames = new Set(listeners.map((l) => l.metadata.name));
  const serviceOf = (listener: KubeObject) =>
    serviceNameCount.get(serviceNameOf(listener))! > 1
      ? `${serviceNameOf(listener)}-${listener.metadata.name}`
      : serviceNameOf(listener);

  // Authentications and authorizations: their listeners must exist, their secrets too.
  const usable = (crs: KubeObject[], secretsOf: (spec: Spec) => { secrets: string[]; configMaps: string[] }) =>
    crs.filter((cr) => {
      const spec = cr.spec as Spec;
      const missing = ((spec.listenerRef as string[] | undefined) ?? []).filter((name) => !allNames.has(name));
      if (missing.length)
        return (
          fail(
            cr,
            REASONS.ListenerNotFound,
            `Listener(s) ${missing.map((m) => `'${m}'`).join(', ')} do not exist in namespace '${namespace}'.`,
          ),
          false
        );
      const refs = secretsOf(spec);
      const noSecret = refs.secrets.find((s) => !input.secrets.has(s));
      if (noSecret)
        return (
          fail(cr, REASONS.SecretNotFound, `Secret '${noSecret}' does not exist in namespace '${namespace}'.`),
          false
        );
      const noConfigMap = refs.configMaps.find((c) => !input.configMaps.has(c));
      if (noConfigMap)
        return (
          fail(cr, REASONS.ConfigMapNotFound, `ConfigMap '${noConfigMap}' does not exist in namespace '${namespace}'.`),
          false
        );
      if (JSON.stringify(spec).includes('"keyVault"'))
        return (
          fail(cr, REASONS.Unsupported, 'Key Vault references are not supported by iotmq; use secretName.'),
          false
        );
      return true;
    });
  const validAuthn = usable(authentications, authenticationRefs);
  const validAuthz = usable(authorizations, () => ({ secrets: [], configMaps: [] }));

  // Diagnostics: the first DiagnosticService sets the metrics port of the first broker.
  const diagnostic = diagnostics[0];
  for (const extra of diagnostics.slice(1))
    fail(
      extra,
      REASONS.Unsupported,
      `Only one DiagnosticService per namespace is supported; '${diagnostic!.metadata.name}' is in use.`,
    );
  let metricsPort: number | undefined;
  if (diagnostic) {
    const port = ((diagnostic.spec as Spec).metricsPort as number | undefined) ?? 9600;
    if (portOwner.has(port))
      fail(
        diagnostic,
        REASONS.PortConflict,
        `Metrics port ${port} is already used by listener '${portOwner.get(port)}'.`,
      );
    else if (input.portsInUse.has(port))
      fail(diagnostic, REASONS.PortInUse, `Metrics port ${port} is already in use on this machine by another process.`);
    else if (!brokers.length)
      verdicts.set(verdictKey(diagnostic), {
        ok: true,
        services: [],
        workloads: [],
        message: 'No broker to collect metrics from.',
      });
    else metricsPort = port;
  }

  for (const [index, broker] of brokers.entries()) {
    const name = broker.metadata.name;
    const own = valid.filter((l) => (l.spec as Spec).brokerRef === name);
    const ownNames = new Set(own.map((l) => l.metadata.name));
    const restrict = (cr: KubeObject) => ({
      name: cr.metadata.name,
      spec: {
        ...(cr.spec as Spec),
        listenerRef: ((cr.spec as Spec).listenerRef as string[]).filter((n) => ownNames.has(n)),
      },
    });
    const serves = (cr: KubeObject) => ((cr.spec as Spec).listenerRef as string[]).some((n) => ownNames.has(n));
    const authn = validAuthn.filter(serves).map(restrict);
    const authz = validAuthz.filter(serves).map(restrict);
    const brokerMetrics = index === 0 ? metricsPort : undefined;
    const config = {
      broker: { name, spec: broker.spec ?? {} },
      listeners: own.map((l) => ({ name: l.metadata.name, spec: l.spec })),
      authentications: authn,
      authorizations: authz,
      mounts: { secrets: layout.secretsDir, configMaps: layout.configMapsDir },
      dataDir: `${layout.dataDir}/${name}`,
      bindAddress: layout.bindAddress,
      ...(brokerMetrics !== undefined ? { metricsPort: brokerMetrics } : {}),
    };
    const labels = labelsFor(name);
    const owner = ownerOf(broker);
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: configMapName(name), namespace, labels, ownerReferences: owner },
      data: { [BROKER_CONFIG_KEY]: `${JSON.stringify(config, null, 2)}\n` },
    });
    const secretVolumes = [
      ...new Set([
        ...own.flatMap((l) =>
          (l.spec as Spec).tls?.manual?.secretName ? [(l.spec as Spec).tls.manual.secretName as string] : [],
        ),
        ...authn.flatMap((a) => authenticationRefs(a.spec).secrets),
      ]),
    ].sort();
    const configMapVolumes = [...new Set(authn.flatMap((a) => authenticationRefs(a.spec).configMaps))].sort();
    // One process per broker until the distributed back end lands: independent replicas would
    // split sessions and subscriptions between them, so cardinality is not honoured yet.
    const replicas = own.length ? 1 : 0;
    const workload = workloadName(name);
    objects.push(
      deployment(
        namespace,
        workload,
        labels,
        owner,
        replicas,
        input.image,
        layout,
        name,
        secretVolumes,
        configMapVolumes,
        [...own.map((l) => (l.spec as Spec).port as number), ...(brokerMetrics ? [brokerMetrics] : [])],
      ),
    );
    for (const listener of own) {
      const spec = listener.spec as Spec;
      objects.push(
        service(namespace, serviceOf(listener), labels, ownerOf(listener), spec.serviceType, [
          { name: `${spec.tls ? 'mqtts' : 'mqtt'}-${spec.port}`, port: spec.port, nodePort: spec.nodePort },
        ]),
      );
      verdicts.set(verdictKey(listener), {
        ok: true,
        services: [serviceOf(listener)],
        workloads: [workload],
        message: `Listening on port ${spec.port}${spec.tls ? ' (TLS)' : ''}.`,
      });
    }
    for (const cr of [...validAuthn, ...validAuthz].filter(serves)) {
      const previous = verdicts.get(verdictKey(cr));
      const services = own
        .filter((l) => ((cr.spec as Spec).listenerRef as string[]).includes(l.metadata.name))
        .map(serviceOf);
      verdicts.set(verdictKey(cr), {
        ok: true,
        services: [...(previous?.ok ? previous.services : []), ...services],
        workloads: [...(previous?.ok ? previous.workloads : []), workload],
        message: 'Applied to the broker configuration.',
      });
    }
    verdicts.set(
      verdictKey(broker),
      own.length
        ? { ok: true, services: [], workloads: [workload], message: `Running with ${own.length} listener(s).` }
        : { ok: true, services: [], workloads: [], message: 'No listeners yet: nothing runs.' },
    );
    if (brokerMetrics !== undefined && diagnostic) {
      objects.push(
        service(namespace, DIAGNOSTICS_SERVICE_NAME, labels, ownerOf(diagnostic), 'clusterIp', [
          { name: 'metrics', port: brokerMetrics },
        ]),
      );
      verdicts.set(verdictKey(diagnostic), {
        ok: true,
        services: [DIAGNOSTICS_SERVICE_NAME],
        workloads: [workload],
        message: `Broker '${name}' serves metrics on port ${brokerMetrics}.`,
      });
    }
  }
  // Authentications/authorizations whose listeners are all invalid: nothing to apply them to yet.
  for (const cr of [...validAuthn, ...validAuthz]) {
    if (!verdicts.has(verdictKey(cr)))
      verdicts.set(verdictKey(cr), {
        ok: true,
        services: [],
        workloads: [],
        message: 'None of its listeners is serving yet.',
      });
  }
  return { namespace, objects, verdicts };
}

function serviceNameOf(listener: KubeObject): string {
  return ((listener.spec as Spec).serviceName as string | undefined) ?? DEFAULT_SERVICE_NAME;
}

/** Secrets and ConfigMaps an authentication's methods read. */
function authenticationRefs(spec: Spec): { secrets: string[]; configMaps: string[] } {
  const secrets: string[] = [];
  const configMaps: string[] = [];
  for (const method of (spec.authenticationMethods as Spec[] | undefined) ?? []) {
    if (method.usernamePassword?.secretName) secrets.push(method.usernamePassword.secretName);
    if (method.x509?.attributes?.secretName) secrets.push(method.x509.attributes.secretName);
    const clientCa = method.x509?.trustedClientCaCert ?? method.x509?.trustedClientCaCertConfigMap;
    if (clientCa) configMaps.push(clientCa);
    if (method.custom?.auth?.x509?.secretName) secrets.push(method.custom.auth.x509.secretName);
    const customCa = method.custom?.caCert ?? method.custom?.caCertConfigMap;
    if (customCa) configMaps.push(customCa);
  }
  return { secrets, configMaps };
}

const SERVICE_TYPES: Record<string, string> = {
  clusterIp: 'ClusterIP',
  loadBalancer: 'LoadBalancer',
  nodePort: 'NodePort',
};

function service(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  owner: OwnerReference[],
  type: string | undefined,
  ports: { name: string; port: number; nodePort?: number }[],
): KubeObject {
  const serviceType = SERVICE_TYPES[type ?? 'clusterIp'] ?? 'ClusterIP';
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

function deployment(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  owner: OwnerReference[],
  replicas: number,
  image: string,
  layout: Layout,
  broker: string,
  secrets: string[],
  configMaps: string[],
  ports: number[],
): KubeObject {
  const selector = { [INSTANCE_LABEL]: labels[INSTANCE_LABEL]!, [NAME_LABEL]: labels[NAME_LABEL]! };
  const volume = (prefix: string, n: string) => `${prefix}-${n}`.slice(0, 63);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels, ownerReferences: owner },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'broker',
              image,
              args: ['broker', '--config', `${layout.configMapsDir}/${configMapName(broker)}/${BROKER_CONFIG_KEY}`],
              env: [{ name: 'NODE_OPTIONS', value: BROKER_NODE_OPTIONS }],
              ports: ports.map((port) => ({ containerPort: port, protocol: 'TCP' })),
              volumeMounts: [
                { name: 'config', mountPath: `${layout.configMapsDir}/${configMapName(broker)}`, readOnly: true },
                ...secrets.map((s) => ({
                  name: volume('secret', s),
                  mountPath: `${layout.secretsDir}/${s}`,
                  readOnly: true,
                })),
                ...configMaps.map((c) => ({
                  name: volume('configmap', c),
                  mountPath: `${layout.configMapsDir}/${c}`,
                  readOnly: true,
                })),
                { name: 'data', mountPath: `${layout.dataDir}/${broker}` },
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
