// Names the operator writes; drivers and tests use the same constants.

export const OPERATOR_FIELD_MANAGER = 'iotmq-operator';
export const OPERATOR_FINALIZER = 'iotmq.azure.com/operator';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'iotmq-operator';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const NAME_LABEL = 'app.kubernetes.io/name';
/** Key of the broker config file in its ConfigMap. */
export const BROKER_CONFIG_KEY = 'broker.json';
/** Kinds the operator reconciles (connectors come with the connectors issue). */
export const RECONCILED_KINDS = [
  'Broker',
  'BrokerListener',
  'BrokerAuthentication',
  'BrokerAuthorization',
  'DiagnosticService',
] as const;
export type ReconciledKind = (typeof RECONCILED_KINDS)[number];

/** Reasons of Ready=False that no retry will fix until the resources change (severity Error). */
export const REASONS = {
  BrokerNotFound: 'BrokerNotFound',
  /** The listener's Broker exists but its spec is invalid. */
  BrokerInvalid: 'BrokerInvalid',
  ListenerNotFound: 'ListenerNotFound',
  PortConflict: 'PortConflict',
  PortInUse: 'PortInUse',
  SecretNotFound: 'SecretNotFound',
  ConfigMapNotFound: 'ConfigMapNotFound',
  Unsupported: 'Unsupported',
  /** The spec breaks the broker config contract (src/api/broker-config.ts): the broker would refuse it. */
  InvalidSpec: 'InvalidSpec',
} as const;
