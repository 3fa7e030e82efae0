// X.509 client authentication created the way a user does it: a ConfigMap with the client CA and a
// TLS Secret on the cluster, then a BrokerListener and a BrokerAuthentication PUT through the Azure
// SDK (front door → RP → agent → operator → local driver → `iotmq broker`). An MQTT client with a
// certificate from that CA connects over TLS; one from another CA is refused. The API names the CA
// field `trustedClientCaCertConfigMap`: the rendered config must carry it to the broker under that name
// and mount the ConfigMap where the broker reads it.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type CertificateAuthority,
} from '../../src/common/tls.js';
import { freePort, NAMESPACE, startDevStack, until, type DevStack } from './dev-stack.js';

let stack: DevStack;
let ca: CertificateAuthority;
const clients: MqttClient[] = [];
const POLL = { updateIntervalInMs: 50 };

beforeAll(async () => {
  stack = await startDevStack();
  ca = await createCertificateAuthority({ commonName: 'Contoso Devices CA' });
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  await stack?.stop();
});

async function connectWith(port: number, cert: { certPem: string; keyPem: string }) {
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
    protocolVersion: 5,
    ca: ca.certPem,
    cert: cert.certPem,
    key: cert.keyPem,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  clients.push(client);
  return client;
}

/** The CONNACK reason code of a refused connection; undefined when it was accepted. */
async function refusal(port: number, cert: { certPem: string; keyPem: string }): Promise<number | undefined> {
  try {
    (await connectWith(port, cert)).end(true);
    return undefined;
  } catch (error) {
    // An MQTT refusal carries its reason code (a number); a socket error such as ECONNREFUSED while
    // the broker restarts with its new listener is not an answer yet, so the poll goes on.
    const code = (error as { code?: unknown }).code;
    return typeof code === 'number' ? code : undefined;
  }
}

describe('X.509 authentication through the API', () => {
  it('a client certificate from the CA in the ConfigMap connects; one from another CA is refused', async () => {
    const apply = (object: Record<string, unknown>) =>
      stack.local.cluster.apply(object as never, { fieldManager: 'iotmq-e2e' });
    const server = await issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'device-ca', namespace: NAMESPACE },
      data: { 'client_ca.pem': ca.certPem },
    });
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'x509-listener-tls', namespace: NAMESPACE },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': server.certPem, 'tls.key': server.keyPem },
    });

    const port = await freePort();
    await stack.putAndWait(
      `${stack.brokerId}/listener/x509`,
      {
        brokerRef: 'broker',
        port,
        serviceName: 'x509-frontend',
        authenticationEnabled: true,
        authorizationEnabled: false,
        tls: { manual: { secretName: 'x509-listener-tls' } },
      },
      POLL,
    );
    const authentication = await stack.putAndWait(
      `${stack.brokerId}/authentication/x509`,
      { listenerRef: ['x509'], authenticationMethods: [{ x509: { trustedClientCaCertConfigMap: 'device-ca' } }] },
      POLL,
    );
    expect(authentication.properties?.provisioningState).toBe('Succeeded');

    const device = await issueClientCertificate(ca, { subject: 'CN=thermostat, OU=factory' });
    const stranger = await issueClientCertificate(await createCertificateAuthority({ commonName: 'Stranger CA' }), {
      subject: 'CN=thermostat, OU=factory',
    });
    // The broker applies its new config when the file changes: wait until it authenticates.
    expect(await until('the broker to refuse a certificate of another CA', () => refusal(port, stranger))).toBe(0x87);
    const client = await connectWith(port, device);
    await client.publishAsync('devices/thermostat/temp', '21', { qos: 1 });
  });
});
