// Server certificate and key for a TLS listener: from the manual secret's files, or generated
// once into dataDir for `tls.automatic` (standing in for cert-manager) and reused on restart.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  createCertificateAuthority,
  issueServerCertificate,
  type CertificateAuthority,
} from '../../../src/common/tls.js';
import { ConfigError, secretFile, type BrokerConfig, type ListenerSpec, type Named } from '../config.js';

export interface ServerTlsMaterial {
  cert: string;
  key: string;
  /** The CA clients should trust (automatic mode only). */
  caFile?: string;
}

export async function resolveServerTls(
  config: BrokerConfig,
  listener: Named<ListenerSpec>,
): Promise<ServerTlsMaterial> {
  const tls = listener.spec.tls!;
  if (tls.manual) {
    const certFile = secretFile(config, tls.manual.secretName, 'tls.crt');
    const keyFile = secretFile(config, tls.manual.secretName, 'tls.key');
    if (!existsSync(certFile) || !existsSync(keyFile))
      throw new ConfigError(
        `listener ${listener.name} tls.manual.secretName`,
        `secret ${tls.manual.secretName} has no tls.crt / tls.key`,
      );
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  }
  if (!config.dataDir) throw new ConfigError('dataDir', 'is required for tls.automatic');
  const dir = path.join(config.dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreateCa(dir);
  const certFile = path.join(dir, `${listener.name}.crt`);
  const keyFile = path.join(dir, `${listener.name}.key`);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const san = tls.automatic?.san;
    const dnsNames = [
      ...new Set([...(san?.dns ?? []), listener.spec.serviceName ?? 'aio-mq-dmqtt-frontend', 'localhost']),
    ];
    const ipAddresses = [...new Set([...(san?.ip ?? []), '127.0.0.1', '::1'])];
    const issued = await issueServerCertificate(ca, { dnsNames, ipAddresses });
    writeFileSync(certFile, issued.certPem);
    writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), caFile: path.join(dir, 'ca.crt') };
}

async function loadOrCreateCa(dir: string): Promise<CertificateAuthority> {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  if (existsSync(certFile) && existsSync(keyFile))
    return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), chainPem: '' };
  const ca = await createCertificateAuthority({ commonName: 'iotmq broker CA - Not for Production' });
  writeFileSync(keyFile, ca.keyPem, { mode: 0o600 });
  writeFileSync(certFile, ca.certPem);
  return ca;
}
