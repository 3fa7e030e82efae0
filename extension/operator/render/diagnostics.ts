// DiagnosticService: the first one per namespace sets the metrics port of the first broker (until
// the diagnostics workload runs on its own) and gets a Service for it.
import type { components } from '../../../src/api/types.generated.js';
import type { KubeObject } from '../../cluster/index.js';
import { REASONS } from '../constants.js';
import { ownerOf, type Verdicts } from './common.js';
import type { RenderInput } from './index.js';
import { service } from './workload.js';

type DiagnosticServiceSpec = Partial<components['schemas']['DiagnosticServiceProperties']>;

export const DIAGNOSTICS_SERVICE_NAME = 'aio-mq-diagnostics-service';
const DEFAULT_METRICS_PORT = 9600;

export interface Diagnostics {
  cr?: KubeObject;
  /** The port the first broker serves /metrics on, when a DiagnosticService asks for it. */
  metricsPort?: number;
}

export function checkDiagnostics(
  input: RenderInput,
  diagnostics: KubeObject[],
  portOwner: ReadonlyMap<number, string>,
  hasBroker: boolean,
  verdicts: Verdicts,
): Diagnostics {
  const [first, ...extra] = diagnostics;
  for (const cr of extra)
    verdicts.fail(
      cr,
      REASONS.Unsupported,
      `Only one DiagnosticService per namespace is supported; '${first!.metadata.name}' is in use.`,
    );
  if (!first) return {};
  const port = (first.spec as DiagnosticServiceSpec | undefined)?.metricsPort ?? DEFAULT_METRICS_PORT;
  if (portOwner.has(port))
    verdicts.fail(
      first,
      REASONS.PortConflict,
      `Metrics port ${port} is already used by listener '${portOwner.get(port)}'.`,
    );
  else if (input.portsInUse.has(port))
    verdicts.fail(
      first,
      REASONS.PortInUse,
      `Metrics port ${port} is already in use on this machine by another process.`,
    );
  else if (!hasBroker)
    verdicts.set(first, { ok: true, services: [], workloads: [], message: 'No broker to collect metrics from.' });
  else return { cr: first, metricsPort: port };
  return { cr: first };
}

/** The metrics Service, owned by the DiagnosticService, and its verdict. */
export function diagnosticsObjects(
  input: RenderInput,
  diagnostics: Required<Diagnostics>,
  broker: { name: string; labels: Record<string, string>; workload: string },
  verdicts: Verdicts,
): KubeObject[] {
  verdicts.set(diagnostics.cr, {
    ok: true,
    services: [DIAGNOSTICS_SERVICE_NAME],
    workloads: [broker.workload],
    message: `Broker '${broker.name}' serves metrics on port ${diagnostics.metricsPort}.`,
  });
  return [
    service({
      namespace: input.namespace,
      name: DIAGNOSTICS_SERVICE_NAME,
      labels: broker.labels,
      owner: ownerOf(diagnostics.cr),
      type: 'clusterIp',
      ports: [{ name: 'metrics', port: diagnostics.metricsPort }],
    }),
  ];
}
