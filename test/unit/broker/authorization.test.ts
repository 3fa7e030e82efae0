import { describe, expect, it } from 'vitest';
import { createAuthorizer, expand } from '../../../extension/broker/auth/authorization.js';

const p = (clientId: string, username?: string, attributes: Record<string, string> = {}) => ({
  clientId,
  username,
  attributes,
});

describe('authorization rules', () => {
  const authz = createAuthorizer({
    rules: [
      {
        principals: { clientids: ['dev1'], attributes: [{ city: 'seattle', organization: 'contoso' }] },
        brokerResources: [
          { method: 'Connect' },
          { method: 'Publish', topics: ['clients/{principal.clientId}/#', 'sites/{principal.attributes.city}/+'] },
          { method: 'Subscribe', topics: ['commands/{principal.clientId}', 'fleet/#'] },
        ],
      },
      { principals: { usernames: ['admin'] }, brokerResources: [{ method: 'Subscribe', topics: ['#'] }] },
    ],
  });

  it('matches principals by client id, username, or a whole attribute set', () => {
    expect(authz.canConnect(p('dev1'))).toBe(true);
    expect(authz.canConnect(p('x', undefined, { city: 'seattle', organization: 'contoso' }))).toBe(true);
    expect(authz.canConnect(p('x', undefined, { city: 'seattle' }))).toBe(false); // every pair must match
    expect(authz.canConnect(p('x', undefined, { city: 'Seattle', organization: 'contoso' }))).toBe(false); // case-sensitive
    expect(authz.canConnect(p('admin-client', 'admin'))).toBe(false); // admin has no Connect resource
  });

  it('expands principal variables per client', () => {
    expect(authz.canPublish(p('dev1'), 'clients/dev1/telemetry')).toBe(true);
    expect(authz.canPublish(p('dev1'), 'clients/dev2/telemetry')).toBe(false);
    expect(
      authz.canPublish(p('x', undefined, { city: 'seattle', organization: 'contoso' }), 'sites/seattle/temp'),
    ).toBe(true);
    expect(authz.canPublish(p('x', undefined, { city: 'seattle', organization: 'contoso' }), 'sites/paris/temp')).toBe(
      false,
    );
  });

  it('allows a subscription only inside an allowed filter', () => {
    expect(authz.canSubscribe(p('dev1'), 'commands/dev1')).toBe(true);
    expect(authz.canSubscribe(p('dev1'), 'fleet/+/status')).toBe(true);
    expect(authz.canSubscribe(p('dev1'), 'commands/+')).toBe(false);
    expect(authz.canSubscribe(p('dev1'), '#')).toBe(false);
    expect(authz.canSubscribe(p('a', 'admin'), 'anything/#')).toBe(true);
  });

  it('a variable must be a whole level and its value cannot smuggle wildcards', () => {
    expect(expand('client-{principal.clientId}/#', p('a'))).toBeNull();
    expect(expand('clients/{principal.clientId}/#', p('#'))).toBeNull();
    expect(expand('clients/{principal.clientId}/#', p('a/b'))).toBeNull();
    expect(expand('users/{principal.username}', p('a'))).toBeNull();
    expect(expand('users/{principal.username}', p('a', 'bob'))).toBe('users/bob');
  });
});
