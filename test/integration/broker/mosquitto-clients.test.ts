// TLS and authentication against Debian's mosquitto command-line clients (test/peers/mosquitto.sh
// installs them): mosquitto_pub / mosquitto_sub over TLS verifying our generated CA (--cafile),
// authenticated by the product's PBKDF2 password database or by an X.509 client certificate
// (--cert/--key), with MQTT.js on a second, open listener of the same broker.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../extension/broker/auth/password-db.js';
import { createCertificateAuthority, issueClientCertificate } from '../../../src/common/tls.js';
import { createConfigDir, listener, portOf, startFromConfig } from './config-fixture.js';
import { collect, connectClient } from './helpers.js';
import { startPeer } from './peer-process.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let bin = '';

beforeAll(() => {
  bin = execFileSync('bash', [path.join(repo, 'test/peers/mosquitto.sh')], { encoding: 'utf8' }).trim();
}, 300_000);

async function setup() {
  const dir = createConfigDir();
  const ca = await createCertificateAuthority({ commonName: 'Devices CA' });
  dir.configMap('client-ca', 'client_ca.pem', ca.certPem);
  dir.secret('passwords', 'passwords.toml', `[alice]\npassword = "${await hashPassword('wonderland', 1000)}"\n`);
  const running = await startFromConfig(
    dir.config({
      listeners: [
        listener('tls', {
          authenticationEnabled: true,
          tls: { automatic: { issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: 'x' } } },
        }),
        listener('open'),
      ],
      authentications: [
        {
          name: 'authn',
          spec: {
            listenerRef: ['tls'],
            authenticationMethods: [
              { usernamePassword: { secretName: 'passwords' } },
              { x509: { trustedClientCaCertConfigMap: 'client-ca' } },
            ],
          },
        },
      ],
    }),
  );
  const device = await issueClientCertificate(ca, { subject: 'CN=thermostat' });
  const certFile = path.join(dir.root, 'device.crt');
  const keyFile = path.join(dir.root, 'device.key');
  writeFileSync(certFile, device.certPem);
  writeFileSync(keyFile, device.keyPem, { mode: 0o600 });
  const tlsArgs = [
    '-h',
    '127.0.0.1',
    '-p',
    String(portOf(running, 'tls')),
    '--cafile',
    running.listeners.get('tls')!.caFile!,
  ];
  return {
    running,
    tlsArgs,
    certArgs: ['--cert', certFile, '--key', keyFile],
    openUrl: `mqtt://127.0.0.1:${portOf(running, 'open')}`,
  };
}

describe.each(['mqttv311', 'mqttv5'])('mosquitto clients (%s) over TLS', (version) => {
  it('a certificate-authenticated mosquitto_sub gets what a password-authenticated mosquitto_pub sends', async () => {
    const { tlsArgs, certArgs, openUrl } = await setup();
    const topic = `mosq/${version}/temp`;
    const js = await connectClient(openUrl, { protocolVersion: 5 });
    const atJs = collect(js);
    await js.subscribeAsync(topic, { qos: 1 });

    // -d prints the protocol exchange, so the SUBACK line says the subscription is in place;
    // stdbuf makes stdout line-buffered, as it is on a terminal
    const sub = startPeer('stdbuf', [
      '-oL',
      `${bin}/mosquitto_sub`,
      ...tlsArgs,
      ...certArgs,
      '-V',
      version,
      '-d',
      '-q',
      '1',
      '-t',
      topic,
      '-C',
      '1',
    ]);
    await sub.waitForLine((l) => /received SUBACK/.test(l));

    const pubArgs = [
      ...tlsArgs,
      '-V',
      version,
      '-u',
      'alice',
      '-P',
      'wonderland',
      '-q',
      '1',
      '-t',
      topic,
      '-m',
      '21.5',
    ];
    if (version === 'mqttv5') pubArgs.push('-D', 'publish', 'user-property', 'unit', 'celsius');
    const pub = startPeer(`${bin}/mosquitto_pub`, pubArgs);
    expect(await pub.exited, pub.stderr()).toBe(0);

    await sub.waitForLine((l) => l === '21.5');
    expect(await sub.exited, sub.stderr()).toBe(0);
    const m = await atJs.next();
    expect(m.payload.toString()).toBe('21.5');
    if (version === 'mqttv5') expect(m.packet.properties?.userProperties).toEqual({ unit: 'celsius' });
  }, 30_000);

  it('refuses a wrong password and a client with no credentials', async () => {
    const { tlsArgs } = await setup();
    const wrong = startPeer(`${bin}/mosquitto_pub`, [
      ...tlsArgs,
      '-V',
      version,
      '-u',
      'alice',
      '-P',
      'nope',
      '-t',
      't',
      '-m',
      'x',
    ]);
    expect(await wrong.exited).not.toBe(0);
    expect(wrong.stderr()).toMatch(/bad user ?name or password/i);
    const anonymous = startPeer(`${bin}/mosquitto_pub`, [...tlsArgs, '-V', version, '-t', 't', '-m', 'x']);
    expect(await anonymous.exited).not.toBe(0);
    expect(anonymous.stderr()).toMatch(/not authori[sz]ed/i);
  }, 30_000);
});
