// TLS material generated when the user gives none (docs/design.md, "Secure by default"): a CA and
// certificates it issues, all EC P-256 like the product's quickstart CA. Used by the broker's
// `tls.automatic` listeners and the dev server; tests use it to mint client certificates.
// @peculiar/x509 resolves its ASN.1 types through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** PEM text of a certificate and its PKCS#8 private key; what gets written to disk or a Secret. */
export interface CertificateMaterial {
  certPem: string;
  keyPem: string;
}

/** A CA that can issue certificates. `chainPem` is this CA plus its issuers (empty for a root). */
export interface CertificateAuthority extends CertificateMaterial {
  chainPem: string;
}

export interface CreateCertificateAuthorityOptions {
  commonName?: string;
  validityDays?: number;
  /** Issue an intermediate CA under this one instead of a self-signed root. */
  issuer?: CertificateAuthority;
}

export async function createCertificateAuthority(
  options: CreateCertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const commonName = options.commonName ?? 'iotmq Root CA - Not for Production';
  const keys = await generateKeys();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + (options.validityDays ?? 365) * DAY_MS);
  const extensions = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  let cert: x509.X509Certificate;
  if (options.issuer) {
    const issuerCert = new x509.X509Certificate(options.issuer.certPem);
    cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${commonName}`,
      issuer: issuerCert.subject,
      notBefore,
      notAfter,
      signingAlgorithm: SIGNING_ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: await importPrivateKey(options.issuer.keyPem),
      extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(issuerCert.publicKey)],
    });
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=${commonName}`,
      notBefore,
      notAfter,
      signingAlgorithm: SIGNING_ALGORITHM,
      keys,
      extensions,
    });
  }
  const certPem = cert.toString('pem') + '\n';
  return {
    certPem,
    keyPem: await exportPrivateKey(keys.privateKey),
    chainPem: options.issuer ? certPem + options.issuer.chainPem : '',
  };
}

export interface IssueServerCertificateOptions {
  dnsNames?: string[];
  ipAddresses?: string[];
  commonName?: string;
  validityDays?: number;
}

/** A serving certificate; `certPem` carries the leaf followed by any intermediates of `ca`. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  options: IssueServerCertificateOptions = {},
): Promise<CertificateMaterial> {
  const names = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  return issueLeaf(ca, {
    subject: `CN=${options.commonName ?? options.dnsNames?.[0] ?? 'iotmq'}`,
    validityDays: options.validityDays ?? 365,
    usage: x509.ExtendedKeyUsage.serverAuth,
    extra: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
}

export interface IssueClientCertificateOptions {
  /** Distinguished name such as `CN=device1, OU=factory`; a bare name becomes `CN=<name>`. */
  subject: string;
  validityDays?: number;
  notAfter?: Date;
}

/** A client certificate (for X.509 client authentication); `certPem` carries the chain like the server one. */
export async function issueClientCertificate(
  ca: CertificateAuthority,
  options: IssueClientCertificateOptions,
): Promise<CertificateMaterial> {
  return issueLeaf(ca, {
    subject: options.subject.includes('=') ? options.subject : `CN=${options.subject}`,
    validityDays: options.validityDays ?? 365,
    notAfter: options.notAfter,
    usage: x509.ExtendedKeyUsage.clientAuth,
    extra: [],
  });
}

async function issueLeaf(
  ca: CertificateAuthority,
  params: { subject: string; validityDays: number; notAfter?: Date; usage: string; extra: x509.Extension[] },
): Promise<CertificateMaterial> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    subject: params.subject,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: params.notAfter ?? new Date(Date.now() + params.validityDays * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: await importPrivateKey(ca.keyPem),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([params.usage]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
      ...params.extra,
    ],
  });
  return {
    certPem: cert.toString('pem') + '\n' + ca.chainPem,
    keyPem: await exportPrivateKey(keys.privateKey),
  };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return (await webcrypto.subtle.importKey('pkcs8', der, EC_ALGORITHM, false, ['sign'])) as CryptoKey;
}
