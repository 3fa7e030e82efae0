// render() is pure: a table of CR sets → plans and verdicts, no cluster, no processes.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { render, type RenderInput } from '../../../extension/operator/index.js';
import type { KubeObject } from '../../../extension/cluster/index.js';
import { configMapDir, secretFile } from '../../../src/api/broker-config.js';
import { validateConfig } from '../../../extension/broker/config.js';

const NS = 'azure-iot-operations';
let clock = 0;
const cr = (kind: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'mq.iotoperations.azure.com/v1beta1',
  kind,
  metadata: {
    name,
    namespace: NS,
    uid: `uid-${kind}-${name}`,
    generation: 1,
    creationTimestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, clock++)).toISOString(),
  },
  spec,
});
const broker = cr('Broker', 'broker', { mode: 'auto', memoryProfile: 'medium' });
const input = (crs: KubeObject[], extra: Partial<RenderInput> = {}): RenderInput => ({
  namespace: NS,
  crs,
  secrets: new Set(),
  configMaps: new Set(),
  portsInUse: new Set(),
  layout: {
    configMapsDir: '/etc/iotmq/configmaps',
    secretsDir: '/etc/iotmq/secrets',
    dataDir: '/var/lib/iotmq',
    bindAddress: '0.0.0.0',
  },
  image: 'iotmq:test',
  ...extra,
});

describe('operator render', () => {
  it('renders the broker config, a Deployment and one Service per listener, labelled and owned', () => {
    const tls = cr('BrokerListener', 'tls', {
      brokerRef: 'broker',
      port: 8883,
      serviceType: 'loadBalancer',
      authenticationEnabled: true,
      tls: { automatic: { issuerRef: { name: 'x', kind: 'Issuer' } } },
    });
    const plain = cr('BrokerListener', 'plain', {
      brokerRef: 'broker',
      port: 1883,
      serviceName: 'aio-mq-dmqtt-frontend-nontls',
    });
    const authn = cr('BrokerAuthentication', 'authn', {
      listenerRef: ['tls'],
      authenticationMethods: [{ usernamePassword: { secretName: 'passwords' } }],
    });
    const plan = render(input([broker, tls, plain, authn], { secrets: new Set(['passwords']) }));
    expect(plan.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/broker-config',
      'Deployment/broker-frontend',
      'Service/aio-mq-dmqtt-frontend',
      'Service/aio-mq-dmqtt-frontend-nontls',
    ]);
    for (const object of plan.objects) {
      expect(object.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('iotmq-operator');
      expect(object.metadata.ownerReferences?.[0]?.uid).toMatch(/^uid-/);
    }
    const config = JSON.parse(
      (plan.objects.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>)['broker.json']!,
    );
    expect(config.listeners.map((l: { name: string }) => l.name)).toEqual(['tls', 'plain']);
    // The config is what the broker's own loader accepts, with the spec's defaults written out.
    const loaded = validateConfig(config);
    expect(loaded).toEqual(config);
    expect(config.authentications).toEqual([
      {
        name: 'authn',
        spec: { listenerRef: ['tls'], authenticationMethods: [{ usernamePassword: { secretName: 'passwords' } }] },
      },
    ]);
    expect(config.listeners[1].spec).toEqual({
      brokerRef: 'broker',
      port: 1883,
      serviceName: 'aio-mq-dmqtt-frontend-nontls',
      serviceType: 'clusterIp',
      authenticationEnabled: false,
      authorizationEnabled: false,
    });
    // every referenced Secret resolved to the directory the Deployment mounts it at
    expect(config.mounts).toEqual({ secrets: { passwords: '/etc/iotmq/secrets/passwords' }, configMaps: {} });
    const deployment = plan.objects.find((o) => o.kind === 'Deployment')!;
    const pod = (deployment.spec as any).template.spec;
    expect(pod.containers[0].args).toEqual(['broker', '--config', '/etc/iotmq/configmaps/broker-config/broker.json']);
    // the broker's V8 young generation is capped (extension/broker/node-options.ts)
    expect(pod.containers[0].env).toEqual([{ name: 'NODE_OPTIONS', value: '--max-semi-space-size=4' }]);
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual(['config', 'secret-passwords', 'data']);
    const lb = plan.objects.find((o) => o.metadata.name === 'aio-mq-dmqtt-frontend')!;
    expect((lb.spec as any).type).toBe('LoadBalancer');
    expect((lb.spec as any).ports).toEqual([{ name: 'mqtts-8883', port: 8883, targetPort: 8883, protocol: 'TCP' }]);
    expect([...plan.verdicts.values()].every((v) => v.ok)).toBe(true);
    expect(render(input([broker, tls, plain, authn], { secrets: new Set(['passwords']) }))).toEqual(plan); // pure
  });

  it.each([
    ['BrokerNotFound', [cr('BrokerListener', 'orphan', { brokerRef: 'nope', port: 1 })], 'BrokerListener/orphan', {}],
    [
      'PortConflict',
      [
        broker,
        cr('BrokerListener', 'first', { brokerRef: 'broker', port: 1883 }),
        cr('BrokerListener', 'second', { brokerRef: 'broker', port: 1883 }),
      ],
      'BrokerListener/second',
      {},
    ],
    [
      'SecretNotFound',
      [
        broker,
        cr('BrokerListener', 'manual', { brokerRef: 'broker', port: 8884, tls: { manual: { secretName: 'missing' } } }),
      ],
      'BrokerListener/manual',
      {},
    ],
    [
      'PortInUse',
      [broker, cr('BrokerListener', 'busy', { brokerRef: 'broker', port: 1999 })],
      'BrokerListener/busy',
      { portsInUse: new Set([1999]) },
    ],
    [
      'ListenerNotFound',
      [broker, cr('BrokerAuthentication', 'authn', { listenerRef: ['ghost'], authenticationMethods: [] })],
      'BrokerAuthentication/authn',
      {},
    ],
    [
      'SecretNotFound',
      [
        broker,
        cr('BrokerListener', 'l', { brokerRef: 'broker', port: 1 }),
        cr('BrokerAuthentication', 'pw', {
          listenerRef: ['l'],
          authenticationMethods: [{ usernamePassword: { secretName: 'gone' } }],
        }),
      ],
      'BrokerAuthentication/pw',
      {},
    ],
  ] as const)('%s for %s', (reason, crs, key, extra) => {
    const plan = render(input([...crs], extra as Partial<RenderInput>));
    expect(plan.verdicts.get(key)).toMatchObject({ ok: false, reason });
    // An invalid listener never reaches the broker config or a Service.
    const config = plan.objects.find((o) => o.kind === 'ConfigMap');
    if (config && key.startsWith('BrokerListener/'))
      expect((config.data as Record<string, string>)['broker.json']).not.toContain(`"name": "${key.split('/')[1]}"`);
  });

  it('x509 and custom methods reach the broker under the API`s names, their ConfigMaps mounted where it reads them', () => {
    const l = cr('BrokerListener', 'l', { brokerRef: 'broker', port: 8883, authenticationEnabled: true });
    const authn = cr('BrokerAuthentication', 'certs', {
      listenerRef: ['l'],
      authenticationMethods: [
        { x509: { attributes: { secretName: 'attrs' } } }, // trustedClientCaCertConfigMap defaults to client-ca
        {
          custom: {
            endpoint: 'https://auth:8443',
            caCertConfigMap: 'auth-ca',
            auth: { x509: { secretName: 'auth-client' } },
          },
        },
      ],
    });
    const plan = render(
      input([broker, l, authn], {
        secrets: new Set(['attrs', 'auth-client']),
        configMaps: new Set(['client-ca', 'auth-ca']),
      }),
    );
    expect(plan.verdicts.get('BrokerAuthentication/certs')).toMatchObject({ ok: true });
    const config = validateConfig(
      JSON.parse((plan.objects.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>)['broker.json']!),
    );
    const [x509, custom] = config.authentications![0]!.spec.authenticationMethods;
    expect(x509!.x509!.trustedClientCaCertConfigMap).toBe('client-ca');
    expect(custom!.custom!.caCertConfigMap).toBe('auth-ca');
    const mounts = (
      (plan.objects.find((o) => o.kind === 'Deployment')!.spec as any).template.spec.containers[0].volumeMounts as {
        mountPath: string;
      }[]
    ).map((m) => m.mountPath);
    expect(mounts).toEqual(
      expect.arrayContaining([
        configMapDir(config.mounts, 'client-ca'),
        configMapDir(config.mounts, 'auth-ca'),
        path.dirname(secretFile(config.mounts, 'attrs', 'x509Attributes.toml')),
        path.dirname(secretFile(config.mounts, 'auth-client', 'tls.crt')),
      ]),
    );
  });

  it.each([
    ['an unknown field', { listenerRef: ['l'], authenticationMethods: [{ x509: { trustedClientCaCert: 'ca' } }] }],
    [
      'a method iotmq does not run',
      { listenerRef: ['l'], authenticationMethods: [{ svid: { agentSocketPath: '/s' } }] },
    ],
  ])('a BrokerAuthentication the broker would refuse is not Ready: %s', (_, spec) => {
    const plan = render(
      input(
        [broker, cr('BrokerListener', 'l', { brokerRef: 'broker', port: 1 }), cr('BrokerAuthentication', 'a', spec)],
        {
          configMaps: new Set(['ca', 'client-ca']),
        },
      ),
    );
    expect(plan.verdicts.get('BrokerAuthentication/a')).toMatchObject({ ok: false });
    expect(
      (plan.objects.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>)['broker.json'],
    ).not.toContain('"name": "a"');
  });

  it('a Broker the broker would refuse is not Ready, nor are its listeners', () => {
    const plan = render(
      input([
        cr('Broker', 'broker', { memoryProfile: 'gigantic' }),
        cr('BrokerListener', 'l', { brokerRef: 'broker', port: 1 }),
      ]),
    );
    expect(plan.verdicts.get('Broker/broker')).toMatchObject({ ok: false, reason: 'InvalidSpec' });
    expect((plan.verdicts.get('Broker/broker') as { message: string }).message).toContain("'memoryProfile'");
    expect(plan.verdicts.get('BrokerListener/l')).toMatchObject({ ok: false, reason: 'BrokerInvalid' });
    expect(plan.objects).toEqual([]);
  });

  it('sat authentication needs a Kubernetes API: Unsupported on a cluster without one (the local driver)', () => {
    const crs = [
      broker,
      cr('BrokerListener', 'l', { brokerRef: 'broker', port: 1 }),
      cr('BrokerAuthentication', 'sat', {
        listenerRef: ['l'],
        authenticationMethods: [{ sat: { audiences: ['aio-mq'] } }],
      }),
    ];
    expect(render(input(crs)).verdicts.get('BrokerAuthentication/sat')).toMatchObject({
      ok: false,
      reason: 'Unsupported',
    });
    const kubernetes = { tokenReviewUrl: 'https://kubernetes.default.svc' };
    const plan = render(input(crs, { layout: { ...input([]).layout, kubernetes } }));
    expect(plan.verdicts.get('BrokerAuthentication/sat')).toMatchObject({ ok: true });
    const config = JSON.parse(
      (plan.objects.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>)['broker.json']!,
    );
    expect(validateConfig(config).kubernetes).toEqual(kubernetes);
  });

  it('a broker without listeners runs nothing but is Ready; replicas follow listeners', () => {
    const plan = render(input([broker]));
    expect((plan.objects.find((o) => o.kind === 'Deployment')!.spec as any).replicas).toBe(0);
    expect(plan.verdicts.get('Broker/broker')).toMatchObject({ ok: true, workloads: [] });
  });

  it('a DiagnosticService sets the broker metrics port and its Service', () => {
    const plan = render(
      input([
        broker,
        cr('BrokerListener', 'l', { brokerRef: 'broker', port: 1883 }),
        cr('DiagnosticService', 'diagnostics', { metricsPort: 9601 }),
      ]),
    );
    const config = JSON.parse(
      (plan.objects.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>)['broker.json']!,
    );
    expect(config.metricsPort).toBe(9601);
    expect(plan.objects.some((o) => o.kind === 'Service' && o.metadata.name === 'aio-mq-diagnostics-service')).toBe(
      true,
    );
  });

  it('a listener already serving a port keeps it against one created in the same second', () => {
    const sameSecond = (name: string, ready: boolean): KubeObject => ({
      ...cr('BrokerListener', name, { brokerRef: 'broker', port: 1883 }),
      metadata: { name, namespace: NS, uid: `uid-${name}`, generation: 1, creationTimestamp: '2024-01-01T00:00:00Z' },
      status: ready ? { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', observedGeneration: 1 }] } : {},
    });
    // 'clash' sorts first by name; 'plain' holds the port already.
    const plan = render(input([broker, sameSecond('clash', false), sameSecond('plain', true)]));
    expect(plan.verdicts.get('BrokerListener/clash')).toMatchObject({ ok: false, reason: 'PortConflict' });
    expect(plan.verdicts.get('BrokerListener/plain')).toMatchObject({ ok: true });
  });
});
