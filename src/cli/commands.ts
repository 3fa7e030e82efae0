// The `iotmq` commands: what each is for, its options and examples. Light on purpose (no imports
// beyond types): `iotmq --help` and `iotmq <command> --help` load this and nothing else.
import type { CommandSpec } from './command-line.js';

const DEV = {
  name: 'dev',
  summary: 'everything on this machine: ARM + identity stand-in, RP, local cluster and MQTT broker',
  synopsis: '[options]',
  description: `Starts a local cloud on this machine: the ARM front door and identity stand-in on HTTPS (with a
generated CA), the resource provider on an embedded SQLite store, a connected cluster with its
custom location, and the extension (agent, operator with the local driver) running the default
MQ broker with a TLS and a plain MQTT listener. Everything is kept in the data directory, so a
restart finds it again (the MQTT credentials and ports included). Prints what clients need and
keeps it in <data-dir>/dev.json (readable by you only). Runs until SIGINT or SIGTERM.`,
  options: {
    host: { type: 'string', value: 'HOST', default: '127.0.0.1', help: 'address the ARM endpoint listens on' },
    port: { type: 'string', value: 'PORT', default: '8443', help: 'port of the ARM endpoint, 0 for any free one' },
    'data-dir': { type: 'string', value: 'DIR', default: './.iotmq', help: 'where everything is kept' },
    'mqtt-port': {
      type: 'string',
      value: 'PORT',
      help: `port of the default plain MQTT listener; 0 picks a free one (printed).
Default: the port it had on the last start, else 1883`,
    },
    'mqtts-port': {
      type: 'string',
      value: 'PORT',
      help: `port of the default MQTT over TLS listener; 0 picks a free one (printed).
Default: the port it had on the last start, else 8883`,
    },
  },
  examples: [
    'iotmq dev',
    'iotmq dev --data-dir ~/.iotmq --mqtt-port 11883 --mqtts-port 18883   # beside another MQTT broker',
    'iotmq dev --mqtt-port 0 --mqtts-port 0                                # any free ports',
  ],
} as const satisfies CommandSpec;

const RP = {
  name: 'rp',
  summary: 'the Microsoft.IoTOperationsMQ resource provider on its own (behind ARM)',
  synopsis:
    '--issuer URL --arm-caller APPID --arm-endpoint URL --tenant ID --client-id ID --client-secret-file FILE [options]',
  description: `The Microsoft.IoTOperationsMQ resource provider on its own: ARM's calls and the cluster agents'
feed, on a shared store (several replicas on one PostgreSQL). Runs until SIGTERM or SIGINT.`,
  options: {
    store: {
      type: 'string',
      value: 'URL',
      help: `postgres://user@host/db (replicas share it) or sqlite:PATH
(default: $IOTMQ_RP_STORE, else sqlite:./.iotmq/rp.db)`,
    },
    host: { type: 'string', value: 'HOST', default: '127.0.0.1', help: 'address to listen on' },
    port: { type: 'string', value: 'PORT', default: '8444', help: 'port to listen on, 0 for any free one' },
    'tls-cert': {
      type: 'string',
      value: 'FILE',
      help: 'serve HTTPS with this certificate chain (PEM), with --tls-key',
    },
    'tls-key': { type: 'string', value: 'FILE', help: 'the key of --tls-cert (PEM); plain HTTP without both' },
    issuer: {
      type: 'string',
      multiple: true,
      value: 'URL',
      help: `token issuer to trust, e.g. https://login.microsoftonline.com/TENANT/v2.0;
repeat for more; signing keys come from the first one's OpenID discovery`,
    },
    'jwks-url': { type: 'string', value: 'URL', help: 'signing keys from here instead of OpenID discovery' },
    audience: {
      type: 'string',
      value: 'URI',
      default: 'https://management.azure.com/',
      help: "the RP's app id URI tokens must be for",
    },
    'arm-caller': {
      type: 'string',
      multiple: true,
      value: 'APPID',
      help: `app id allowed to call the ARM routes (ARM, or the front door); repeat for
more. Required: as in Azure, only ARM calls an RP (the agent API checks its
callers by their cluster either way)`,
    },
    'arm-endpoint': { type: 'string', value: 'URL', help: 'ARM, where custom locations are read' },
    tenant: { type: 'string', value: 'ID', help: "the RP's own service principal, for ARM: its tenant," },
    'client-id': { type: 'string', value: 'ID', help: 'its app id,' },
    'client-secret-file': { type: 'string', value: 'FILE', help: 'and a file holding its secret' },
    'ca-file': {
      type: 'string',
      value: 'FILE',
      help: `PEM CAs to trust besides the system's, for the issuer and ARM
(a private cloud's, or iotmq dev's ca.pem)`,
    },
    'operation-deadline-seconds': {
      type: 'string',
      value: 'N',
      default: '300',
      help: "how long an operation waits for the cluster's agent",
    },
  },
  examples: [
    'iotmq rp --store postgres://iotmq@db/iotmq --issuer https://login.microsoftonline.com/$TENANT/v2.0 \\\n' +
      '    --arm-caller $ARM_APP_ID --arm-endpoint https://management.azure.com --tenant $TENANT \\\n' +
      '    --client-id $RP_APP_ID --client-secret-file /run/secrets/rp --tls-cert rp.pem --tls-key rp-key.pem',
  ],
} as const satisfies CommandSpec;

const KUBECONFIG = {
  kubeconfig: {
    type: 'string',
    value: 'FILE',
    help: "the Kubernetes API to use (default: $KUBECONFIG, else the pod's service account)",
  },
} as const satisfies CommandSpec['options'];

const AGENT = {
  name: 'agent',
  summary: "the cluster's agent: the RP's feed → custom resources, their status → the RP",
  synopsis: '--rp-url URL --cluster-id ID --namespace NS [options]',
  description: `Holds the resource provider's feed for one connected cluster and applies its resources as custom
resources on the Kubernetes API (a kubeconfig, or in-cluster), reporting their status back. Flags
win over the environment variables named below (what the Helm chart and the Azure workload
identity webhook set). Runs until SIGTERM or SIGINT.`,
  options: {
    ...KUBECONFIG,
    'rp-url': { type: 'string', value: 'URL', help: 'the RP (https; plain http only on loopback) ($IOTMQ_RP_URL)' },
    'cluster-id': { type: 'string', value: 'ID', help: "the connected cluster's ARM id ($IOTMQ_CLUSTER_ID)" },
    namespace: {
      type: 'string',
      value: 'NS',
      help: "the custom location's namespace ($IOTMQ_NAMESPACE, $POD_NAMESPACE)",
    },
    'token-scope': {
      type: 'string',
      value: 'SCOPE',
      help: 'scope of the tokens for the RP ($IOTMQ_TOKEN_SCOPE; default https://management.azure.com/.default)',
    },
    'rp-ca-file': { type: 'string', value: 'FILE', help: "PEM CA of the RP's certificate ($IOTMQ_RP_CA_FILE)" },
    credential: {
      type: 'string',
      value: 'KIND',
      help: `client-secret or workload-identity ($IOTMQ_CREDENTIAL; default workload-identity
when $AZURE_FEDERATED_TOKEN_FILE is set, else client-secret)`,
    },
    'tenant-id': { type: 'string', value: 'ID', help: "the agent's tenant ($AZURE_TENANT_ID)" },
    'client-id': { type: 'string', value: 'ID', help: "the agent's app id ($AZURE_CLIENT_ID)" },
    'client-secret-file': {
      type: 'string',
      value: 'FILE',
      help: 'a file holding its client secret (else $AZURE_CLIENT_SECRET)',
    },
    'authority-host': {
      type: 'string',
      value: 'URL',
      help: 'the token authority, when not Azure AD ($AZURE_AUTHORITY_HOST)',
    },
  },
  examples: [
    'iotmq agent --rp-url https://rp.example --cluster-id /subscriptions/…/connectedClusters/c1 \\\n' +
      '    --namespace azure-iot-operations --kubeconfig ~/.kube/config',
  ],
} as const satisfies CommandSpec;

const OPERATOR = {
  name: 'operator',
  summary: 'reconciles the mq custom resources of a namespace into workloads',
  synopsis: '--namespace NS [options]',
  description: `Reconciles the mq custom resources of one namespace of a Kubernetes API into workloads: as
Kubernetes objects (--driver kubernetes, what the Helm chart runs) or as processes on this machine
(--driver local). Runs until SIGTERM or SIGINT.`,
  options: {
    ...KUBECONFIG,
    namespace: { type: 'string', value: 'NS', help: 'the namespace to watch ($IOTMQ_NAMESPACE, $POD_NAMESPACE)' },
    driver: {
      type: 'string',
      value: 'KIND',
      help: 'kubernetes or local ($IOTMQ_DRIVER; default kubernetes)',
    },
    image: {
      type: 'string',
      value: 'REF',
      help: "the workloads' container image ($IOTMQ_IMAGE; default ghcr.io/iotmq/iotmq:0.1.0)",
    },
    'data-dir': {
      type: 'string',
      value: 'DIR',
      help: "the local driver's files, logs and data ($IOTMQ_DATA_DIR; default ./.iotmq/operator)",
    },
  },
  examples: ['iotmq operator --namespace azure-iot-operations --driver local --kubeconfig ~/.kube/config'],
} as const satisfies CommandSpec;

const BROKER = {
  name: 'broker',
  summary: 'the MQTT broker, from a config file (as the operator starts it)',
  synopsis: '--config FILE',
  description: `The MQTT broker (3.1.1 and 5): the listeners, authentication and authorization of its config file,
which the operator renders from the Broker, BrokerListener, BrokerAuthentication and
BrokerAuthorization resources. A changed file is applied while running. Runs until SIGTERM or SIGINT.`,
  options: {
    config: { type: 'string', value: 'FILE', help: 'the broker config (JSON), required' },
  },
  examples: ['iotmq broker --config /etc/iotmq/broker.json'],
} as const satisfies CommandSpec;

/** Every command, in the order `iotmq --help` lists them. */
export const COMMANDS: Record<string, CommandSpec> = {
  dev: DEV,
  rp: RP,
  agent: AGENT,
  operator: OPERATOR,
  broker: BROKER,
};

export { AGENT, BROKER, DEV, OPERATOR, RP };
