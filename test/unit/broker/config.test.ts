import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../extension/broker/config.js';

const base = () => ({
  broker: { name: 'broker', spec: { mode: 'auto' } },
  listeners: [{ name: 'listener', spec: { brokerRef: 'broker', port: 1883 } }],
});

describe('broker config validation', () => {
  it('accepts a minimal config', () => {
    expect(validateConfig(base()).listeners[0].spec.port).toBe(1883);
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
  ])('names the field: %s', (field, mutate) => {
    const c = base();
    mutate(c);
    expect(() => validateConfig(c)).toThrow(field);
  });
});
