// BrokerListeners: first come first served on ports; the broker and the TLS secret must exist.
import { listenerSecret, type ListenerSpec } from '../../../src/api/broker-config.js';
import type { KubeObject } from '../../cluster/index.js';
import { REASONS } from '../constants.js';
import { checkSpec, type Checked, type Verdicts } from './common.js';
import type { RenderInput } from './index.js';

export type CheckedListener = Checked<ListenerSpec>;

export interface Listeners {
  /** The listeners that can serve, in the order they claimed their ports. */
  valid: CheckedListener[];
  /** Names of every listener CR, valid or not (authentications may name any of them). */
  names: Set<string>;
  /** Which listener holds each port. */
  portOwner: Map<number, string>;
  /** The Service name of a listener: its serviceName, suffixed when several listeners share one. */
  serviceOf(listener: CheckedListener): string;
}

/** `listeners` are sorted: a listener that already serves its port comes first and keeps it. */
export function checkListeners(
  input: RenderInput,
  listeners: KubeObject[],
  brokers: ReadonlySet<string>,
  verdicts: Verdicts,
  /** Whether a Broker of that name exists, valid or not (for the message of a listener that cannot run). */
  brokerExists: (name: string) => boolean = () => false,
): Listeners {
  const { namespace } = input;
  const valid: CheckedListener[] = [];
  const portOwner = new Map<number, string>();
  for (const cr of listeners) {
    const listener = checkSpec<ListenerSpec>(cr, 'listeners', verdicts);
    if (!listener) continue;
    const { spec } = listener;
    if (!brokers.has(spec.brokerRef)) {
      if (brokerExists(spec.brokerRef))
        verdicts.fail(cr, REASONS.BrokerInvalid, `Broker '${spec.brokerRef}' cannot run; see its Ready condition.`);
      else
        verdicts.fail(
          cr,
          REASONS.BrokerNotFound,
          `Broker '${spec.brokerRef}' does not exist in namespace '${namespace}'.`,
        );
      continue;
    }
    const holder = portOwner.get(spec.port);
    if (holder) {
      verdicts.fail(cr, REASONS.PortConflict, `Port ${spec.port} is already used by listener '${holder}'.`);
      continue;
    }
    if (spec.tls?.keyVault) {
      verdicts.fail(
        cr,
        REASONS.Unsupported,
        'TLS from Key Vault is not supported by iotmq; use tls.automatic or tls.manual.',
      );
      continue;
    }
    const tlsSecret = listenerSecret(spec);
    if (tlsSecret && !input.secrets.has(tlsSecret)) {
      verdicts.fail(
        cr,
        REASONS.SecretNotFound,
        `TLS secret '${tlsSecret}' does not exist in namespace '${namespace}'; the listener starts once it does.`,
      );
      continue;
    }
    if (input.portsInUse.has(spec.port)) {
      verdicts.fail(cr, REASONS.PortInUse, `Port ${spec.port} is already in use on this machine by another process.`);
      continue;
    }
    portOwner.set(spec.port, listener.name);
    valid.push(listener);
  }
  // Service names are counted over every listener CR, so a name does not change when another fails.
  const serviceNameCount = new Map<string, number>();
  for (const l of listeners) serviceNameCount.set(serviceNameOf(l), (serviceNameCount.get(serviceNameOf(l)) ?? 0) + 1);
  return {
    valid,
    names: new Set(listeners.map((l) => l.metadata.name)),
    portOwner,
    serviceOf: (listener) =>
      serviceNameCount.get(serviceNameOf(listener.cr))! > 1
        ? `${serviceNameOf(listener.cr)}-${listener.name}`
        : serviceNameOf(listener.cr),
  };
}

const DEFAULT_SERVICE_NAME = 'aio-mq-dmqtt-frontend';

function serviceNameOf(listener: KubeObject): string {
  return (
    ((listener.spec as { serviceName?: string } | undefined)?.serviceName as string | undefined) ?? DEFAULT_SERVICE_NAME
  );
}
