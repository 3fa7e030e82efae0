import { describe, expect, it } from 'vitest';
import { secretFile, validateConfig } from '../../../extension/broker/config.js';

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
