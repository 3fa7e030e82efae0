import { describe, expect, it } from 'vitest';
import { secretFile, validateConfig } from '../../../extension/broker/config.js';
import { DEFAULT_LIMITS } from '../../../extension/broker/broker.js';
import { configuredLimits } from '../../../extension/broker/main.js';

const base = () => ({
  broker: { name: 'broker', spec: { mode: 'auto' } },
  listeners: [{ name: 'listener', spec: { brokerRef: 'broker', port: 1883 } }],
});

describe('broker config validation', () => {
  it('accepts a minimal config and fills in the spec`s defaults', () => {
    const config = validateConfig(base());
    expect(config.listeners[0]!.spec).toMatchObject({
      port: 1883,
      authenticationEnabled: false,
      serviceType: 'clusterIp',
    });
    expect(config.broker.spec.memoryProfile).toBe('medium');
  });

  it('leaves the broker limits out of the config, and the broker takes their defaults', () => {
    const config = validateConfig(base());
    // no defaults written in: a config the operator renders reads back unchanged
    for (const field of [
      'maxKeepAlive',
      'maxConnectPacketBytes',
      'maxSubscriberQueueBytes',
      'maxSessionQueueMessages',
      'slowSubscriberGraceMs',
    ])
      expect(config).not.toHaveProperty(field);
    expect(configuredLimits(config)).toEqual({
      maxKeepAlive: 60,
      maximumConnectPacketSize: 64 * 1024,
      outboundBufferLimit: 4 * 1024 * 1024,
      outboundHighWater: 1024 * 1024,
      slowSubscriberGraceMs: 5000,
      maxQueuedMessages: 100_000,
    });
    expect(configuredLimits(config)).toMatchObject({
      maximumConnectPacketSize: DEFAULT_LIMITS.maximumConnectPacketSize,
      outboundBufferLimit: DEFAULT_LIMITS.outboundBufferLimit,
      outboundHighWater: DEFAULT_LIMITS.outboundHighWater,
      slowSubscriberGraceMs: DEFAULT_LIMITS.slowSubscriberGraceMs,
    });
  });

  it('maps the limits the config sets onto the broker`s', () => {
    const config = validateConfig({
      ...base(),
      maxKeepAlive: 0,
      maxConnectPacketBytes: 1024,
      maxSubscriberQueueBytes: 512 * 1024,
      maxSessionQueueMessages: 50,
      slowSubscriberGraceMs: 0,
    });
    expect(configuredLimits(config)).toEqual({
      maxKeepAlive: 0,
      maximumConnectPacketSize: 1024,
      outboundBufferLimit: 512 * 1024,
      // publishers wait from a quarter of the limit
      outboundHighWater: 128 * 1024,
      slowSubscriberGraceMs: 0,
      maxQueuedMessages: 50,
    });
    // a large limit keeps the default mark
    expect(configuredLimits(validateConfig({ ...base(), maxSubscriberQueueBytes: 64 * 1024 * 1024 }))).toMatchObject({
      outboundHighWater: 1024 * 1024,
    });
  });

  it('resolves a Secret through its own mount directory or a root', () => {
    const authn = { usernamePassword: { secretName: 'pw' } };
    const withMounts = (mounts: object) =>
      validateConfig({
        ...base(),
        mounts,
        authentications: [{ name: 'a', spec: { listenerRef: ['listener'], authenticationMethods: [authn] } }],
      });
    expect(secretFile(withMounts({ secrets: { pw: '/m/pw' } }), 'pw', 'passwords.toml')).toBe('/m/pw/passwords.toml');
    expect(secretFile(withMounts({ secrets: '/root' }), 'pw', 'passwords.toml')).toBe('/root/pw/passwords.toml');
  });

  it.each([
    ['listeners[0].spec.port', (c: any) => (c.listeners[0].spec.port = 'x')],
    ['maxConnectPacketBytes', (c: any) => (c.maxConnectPacketBytes = 100)],
    [
      // beyond what the memory profile admits at all (tiny: 4 MiB)
      'maxConnectPacketBytes',
      (c: any) => {
        c.broker.spec.memoryProfile = 'tiny';
        c.maxConnectPacketBytes = 8 * 1024 * 1024;
      },
    ],
    ['maxSubscriberQueueBytes', (c: any) => (c.maxSubscriberQueueBytes = '4MiB')],
    ['maxSubscriberQueueBytes', (c: any) => (c.maxSubscriberQueueBytes = 1024)],
    ['maxSessionQueueMessages', (c: any) => (c.maxSessionQueueMessages = 0)],
    ['maxSessionQueueMessages', (c: any) => (c.maxSessionQueueMessages = 10.5)],
    // longer than a Node timer can wait (it would fire at once)
    ['slowSubscriberGraceMs', (c: any) => (c.slowSubscriberGraceMs = 2 ** 31)],
    ['slowSubscriberGraceMs', (c: any) => (c.slowSubscriberGraceMs = -1)],
    ['listeners[0].spec.brokerRef', (c: any) => (c.listeners[0].spec.brokerRef = 'other')],
    ['broker.spec.memoryProfile', (c: any) => (c.broker.spec.memoryProfile = 'huge')],
    ['listeners[0].spec.tls', (c: any) => (c.listeners[0].spec.tls = {})],
    ['listeners[0].spec.protocol', (c: any) => (c.listeners[0].spec.protocol = 'quic')],
    [
      'authentications[0].spec.listenerRef[0]',
      (c: any) => (c.authentications = [{ name: 'a', spec: { listenerRef: ['nope'], authenticationMethods: [] } }]),
    ],
    [
      'authentications[0].spec.authenticationMethods[0]',
      (c: any) =>
        (c.authentications = [{ name: 'a', spec: { listenerRef: ['listener'], authenticationMethods: [{}] } }]),
    ],
    [
      'kubernetes',
      (c: any) =>
        (c.authentications = [
          { name: 'a', spec: { listenerRef: ['listener'], authenticationMethods: [{ sat: { audiences: ['x'] } }] } },
        ]),
    ],
    [
      'authorizations[0].spec.authorizationPolicies.rules[0].brokerResources[0].topics',
      (c: any) =>
        (c.authorizations = [
          {
            name: 'z',
            spec: {
              listenerRef: ['listener'],
              authorizationPolicies: { rules: [{ principals: {}, brokerResources: [{ method: 'Publish' }] }] },
            },
          },
        ]),
    ],
    [
      // a field the API does not name is refused, not ignored (the broker once read x509.trustedClientCaCert)
      'authentications[0].spec.authenticationMethods[0].x509.trustedClientCaCert',
      (c: any) =>
        (c.authentications = [
          {
            name: 'a',
            spec: { listenerRef: ['listener'], authenticationMethods: [{ x509: { trustedClientCaCert: 'ca' } }] },
          },
        ]),
    ],
    [
      // a referenced Secret without a mounted directory
      'mounts.secrets',
      (c: any) => {
        c.mounts = { secrets: { other: '/s/other' } };
        c.authentications = [
          {
            name: 'a',
            spec: { listenerRef: ['listener'], authenticationMethods: [{ usernamePassword: { secretName: 'pw' } }] },
          },
        ];
      },
    ],
    [
      'listeners[0].spec.tls.keyVault',
      (c: any) => (c.listeners[0].spec.tls = { keyVault: { vault: {}, vaultCert: {} } }),
    ],
  ])('names the field: %s', (field, mutate) => {
    const c = base();
    mutate(c);
    expect(() => validateConfig(c)).toThrow(field);
  });
});
