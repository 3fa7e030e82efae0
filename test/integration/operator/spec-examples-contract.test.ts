// The contract from the API to the broker, walked with every example of the spec: each example's
// resource becomes a custom resource by the agent's own function, the operator's render() turns the
// set into a plan, the plan's broker config is loaded by the broker's own loader from files laid
// out as the plan mounts them, and the broker builds each listener's security from it. A field the
// spec names one way and the broker reads another fails here (an x509 method named its CA ConfigMap
// `trustedClientCaCertConfigMap` in the API and `trustedClientCaCert` in the broker).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specContracts } from '../../../src/api/broker-config-schema.js';
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../../../src/common/tls.js';
import { buildSecurity } from '../../../extension/broker/auth/listener-security.js';
import { hashPassword } from '../../../extension/broker/auth/password-db.js';
import { loadConfig } from '../../../extension/broker/config.js';
import type { KubeObject } from '../../../extension/cluster/index.js';
import { BROKER_CONFIG_KEY, RECONCILED_KINDS, render, verdictKey } from '../../../extension/operator/index.js';
import { exampleCustomResources as examplesAsCustomResources } from './example-crs.js';

const NS = 'azure-iot-operations';
type Any = Record<string, any>; // plan objects

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'iotmq-contract-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every CreateOrUpdate example's resource as the custom resource the agent would apply (once per name). */
function exampleCustomResources(): KubeObject[] {
  const byName = new Map<string, KubeObject>();
  for (const { cr } of examplesAsCustomResources(NS, ['_CreateOrUpdate'])) {
    const key = `${cr.kind}/${cr.metadata.name}`;
    if (!byName.has(key))
      byName.set(key, { ...cr, metadata: { ...cr.metadata, uid: `uid-${cr.kind}`, generation: 1 } });
  }
  return [...byName.values()];
}

/** Writes what the plan mounts into the broker, the way a kubelet (or the local driver) would. */
async function materialise(plan: ReturnType<typeof render>): Promise<string> {
  const ca = await createCertificateAuthority({ commonName: 'Contract CA' });
  const server = await issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const client = await issueClientCertificate(ca, { subject: 'CN=broker' });
  // Keys each kind of reference is read by; a volume gets them all, the broker reads the ones it needs.
  const secretKeys: Record<string, string> = {
    'passwords.toml': `[sensor]\npassword = "${await hashPassword('line-1', 1000)}"\n`,
    'x509Attributes.toml': '[device]\nsubject = "CN = broker"\n[device.attributes]\nrole = "sensor"\n',
    'tls.crt': client.certPem,
    'tls.key': client.keyPem,
  };
  const deployment = plan.objects.find((o) => o.kind === 'Deployment')!;
  const pod = (deployment.spec as Any).template.spec;
  for (const mount of pod.containers[0].volumeMounts as Any[]) {
    const volume = (pod.volumes as Any[]).find((v) => v.name === mount.name)!;
    const dir = path.join(root, mount.mountPath);
    mkdirSync(dir, { recursive: true });
    if (volume.configMap) {
      const own = plan.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name);
      const data = (own?.data as Record<string, string> | undefined) ?? { 'ca.pem': ca.certPem };
      for (const [key, value] of Object.entries(data)) writeFileSync(path.join(dir, key), value);
    } else if (volume.secret) {
      for (const [key, value] of Object.entries(secretKeys)) writeFileSync(path.join(dir, key), value);
      if (volume.secret.secretName.includes('tls')) {
        writeFileSync(path.join(dir, 'tls.crt'), server.certPem);
        writeFileSync(path.join(dir, 'tls.key'), server.keyPem);
      }
    }
  }
  const args = pod.containers[0].args as string[];
  return path.join(root, args[args.indexOf('--config') + 1]!);
}

describe('every spec example, from the API to a running broker configuration', () => {
  it('renders Ready and the broker loads the config and builds every listener`s security', async () => {
    const crs = exampleCustomResources();
    const kinds = new Set(crs.map((cr) => cr.kind));
    for (const kind of RECONCILED_KINDS) expect(kinds, `an example of ${kind}`).toContain(kind);
    const everything = { has: () => true } as unknown as ReadonlySet<string>; // every Secret and ConfigMap exists
    const kubeDir = path.join(root, 'serviceaccount');
    mkdirSync(kubeDir, { recursive: true });
    writeFileSync(path.join(kubeDir, 'token'), 'token\n');
    writeFileSync(path.join(kubeDir, 'ca.crt'), (await createCertificateAuthority({ commonName: 'kube' })).certPem);
    const plan = render({
      namespace: NS,
      crs,
      secrets: everything,
      configMaps: everything,
      portsInUse: new Set(),
      layout: {
        configMapsDir: '/etc/iotmq/configmaps',
        secretsDir: '/etc/iotmq/secrets',
        dataDir: '/var/lib/iotmq',
        bindAddress: '127.0.0.1',
        kubernetes: {
          tokenReviewUrl: 'https://kubernetes.default.svc',
          caFile: path.join(kubeDir, 'ca.crt'),
          tokenFile: path.join(kubeDir, 'token'),
        },
      },
      image: 'iotmq:test',
    });
    for (const cr of crs.filter((c) => (RECONCILED_KINDS as readonly string[]).includes(c.kind)))
      expect(plan.verdicts.get(verdictKey(cr)), verdictKey(cr)).toMatchObject({ ok: true });

    const configFile = await materialise(plan);
    const config = loadConfig(configFile.replace(/[^/]+$/, BROKER_CONFIG_KEY));
    // The config paths are the container's; here they live under the test's root.
    const under = (dirs: string | Record<string, string> | undefined) =>
      Object.fromEntries(Object.entries(dirs as Record<string, string>).map(([n, dir]) => [n, path.join(root, dir)]));
    const local = {
      ...config,
      mounts: { secrets: under(config.mounts!.secrets), configMaps: under(config.mounts!.configMaps) },
    };
    // Each CR's spec reaches the broker under the API's field names, defaults filled in.
    const section = { BrokerListener: 'listeners', BrokerAuthentication: 'authentications' } as const;
    for (const cr of crs) {
      const name = section[cr.kind as keyof typeof section];
      if (!name) continue;
      const loaded = (config[name] ?? []).find((c) => c.name === cr.metadata.name);
      expect(loaded?.spec, verdictKey(cr)).toEqual(specContracts[name].check(cr.spec).value);
    }
    const methods = config.authentications!.flatMap((a) => a.spec.authenticationMethods.map((m) => Object.keys(m)[0]));
    expect(methods.sort()).toEqual(['custom', 'sat', 'usernamePassword', 'x509']);

    const security = buildSecurity(local);
    for (const listener of config.listeners) expect(security.security(listener.name)).toBeDefined();
    const authenticated = config.listeners.filter((l) => l.spec.authenticationEnabled);
    expect(authenticated.length).toBeGreaterThan(0);
    for (const listener of authenticated) expect(security.security(listener.name).authenticate).not.toBeNull();
    // the x509 method's CA reached the TLS handshake of its listeners
    expect([...security.clientCa.values()].join('')).toContain('-----BEGIN CERTIFICATE-----');
  });
});
