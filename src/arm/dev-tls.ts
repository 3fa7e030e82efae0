import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../common/tls.js';

export interface DevTls {
  caPem: string;
  caCertFile: string;
  key: string;
  cert: string;
}

/**
 * The dev CA (kept in the data dir, so a client that trusts it once keeps trusting it) and a
 * serving certificate for the host, loopback names and addresses, reissued on every start so a
 * changed `--host` is always covered.
 */
export async function loadDevTls(dataDir: string, host: string): Promise<DevTls> {
  const caCertFile = path.join(dataDir, 'ca.pem');
  const caKeyFile = path.join(dataDir, 'ca-key.pem');
  let ca: CertificateAuthority;
  if (existsSync(caCertFile) && existsSync(caKeyFile)) {
    ca = { certPem: await readFile(caCertFile, 'utf8'), keyPem: await readFile(caKeyFile, 'utf8'), chainPem: '' };
  } else {
    ca = await createCertificateAuthority({ commonName: 'iotmq dev CA - Not for Production', validityDays: 3650 });
    await writeFile(caKeyFile, ca.keyPem, { mode: 0o600 });
    await chmod(caKeyFile, 0o600);
    await writeFile(caCertFile, ca.certPem);
  }
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  const server = await issueServerCertificate(ca, {
    commonName: 'iotmq dev',
    dnsNames: ['localhost', ...(isIp ? [] : [host])],
    ipAddresses: ['127.0.0.1', '::1', ...(isIp && host !== '0.0.0.0' && host !== '::' ? [host] : [])].filter(
      (v, i, a) => a.indexOf(v) === i,
    ),
    validityDays: 365,
  });
  return { caPem: ca.certPem, caCertFile, key: server.keyPem, cert: server.certPem };
}
