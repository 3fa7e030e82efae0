// render(CRs of a namespace) → plan: per broker, its config file in a ConfigMap, a Deployment and a
// Service per listener; a verdict per CR. Pure: same input, same plan; the drivers (kubernetes,
// local) decide only how the plan becomes real. One file per kind of resource beside this one.
import type { BrokerSpec } from '../../../src/api/broker-config.js';
import type { KubeObject } from '../../cluster/index.js';
import type { Layout, Plan } from '../plan.js';
import { checkAuthentications, checkAuthorizations } from './authentication.js';
import { renderBroker } from './broker.js';
import { byAge, checkSpec, isReady, Verdicts, type Checked } from './common.js';
import { checkDiagnostics } from './diagnostics.js';
import { checkListeners } from './listener.js';

export { configMapName, verdictKey, workloadName } from './common.js';

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

export function render(input: RenderInput): Plan {
  const verdicts = new Verdicts();
  const of = (kind: string) => input.crs.filter((cr) => cr.kind === kind).sort(byAge);
  const brokers = of('Broker').flatMap((cr) => checkSpec<BrokerSpec>(cr, 'broker', verdicts) ?? []);
  // A listener that already serves its port keeps it: creation timestamps have one-second
  // resolution, so age alone cannot tell which of two listeners made within a second came first.
  const listenerCrs = of('BrokerListener').sort((a, b) => Number(isReady(b)) - Number(isReady(a)) || byAge(a, b));
  const listeners = checkListeners(input, listenerCrs, new Set(brokers.map((b) => b.name)), verdicts, (name) =>
    of('Broker').some((b) => b.metadata.name === name),
  );
  const authentications = checkAuthentications(input, of('BrokerAuthentication'), listeners.names, verdicts);
  const authorizations = checkAuthorizations(input, of('BrokerAuthorization'), listeners.names, verdicts);
  const diagnostics = checkDiagnostics(
    input,
    of('DiagnosticService'),
    listeners.portOwner,
    brokers.length > 0,
    verdicts,
  );

  const objects = brokers.flatMap((broker: Checked<BrokerSpec>, index) =>
    renderBroker({
      input,
      broker,
      listeners,
      authentications,
      authorizations,
      diagnostics:
        index === 0 && diagnostics.cr && diagnostics.metricsPort !== undefined
          ? { cr: diagnostics.cr, metricsPort: diagnostics.metricsPort }
          : undefined,
      verdicts,
    }),
  );
  // Authentications/authorizations whose listeners are all invalid: nothing to apply them to yet.
  for (const c of [...authentications, ...authorizations])
    if (!verdicts.get(c.cr))
      verdicts.set(c.cr, { ok: true, services: [], workloads: [], message: 'None of its listeners is serving yet.' });
  return { namespace: input.namespace, objects, verdicts: verdicts.map };
}
