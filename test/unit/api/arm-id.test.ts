import { describe, expect, it } from 'vitest';
import { armTypeOf, formatArmId, parentIdOf, parseArmId, resourceNameOf } from '../../../src/api/arm-id.js';

const SUB = '5c1f8a2e-93d4-4b7a-a6e1-0d2f7c9b4e38';
const BROKER = `/subscriptions/${SUB}/resourceGroups/Plant/providers/Microsoft.IoTOperationsMQ/mq/MyMq/broker/broker`;

describe('ARM resource ids (src/api/arm-id.ts, the one parser)', () => {
  it('splits an id keeping the caller`s casing, and formats it back', () => {
    const parts = parseArmId(BROKER)!;
    expect(parts).toEqual({
      subscriptionId: SUB,
      resourceGroup: 'Plant',
      namespace: 'Microsoft.IoTOperationsMQ',
      types: ['mq', 'broker'],
      names: ['MyMq', 'broker'],
    });
    expect(formatArmId(parts)).toBe(BROKER);
    expect(parseArmId(BROKER.toUpperCase())!.names).toEqual(['MYMQ', 'BROKER']); // literals in any case
  });

  it('a subscription-level resource has no resource group', () => {
    const id = `/subscriptions/${SUB}/providers/Microsoft.Kubernetes/connectedClusters/c`;
    expect(parseArmId(id)).toMatchObject({ resourceGroup: undefined, types: ['connectedClusters'], names: ['c'] });
    expect(formatArmId(parseArmId(id)!)).toBe(id);
  });

  it.each([
    ['a collection', `/subscriptions/${SUB}/resourceGroups/Plant/providers/Microsoft.IoTOperationsMQ/mq`],
    ['a resource group', `/subscriptions/${SUB}/resourceGroups/Plant`],
    ['a relative path', `subscriptions/${SUB}/resourceGroups/Plant/providers/NS/mq/a`],
    ['an empty segment', `/subscriptions/${SUB}/resourceGroups//providers/NS/mq/a`],
    ['a trailing slash', `${BROKER}/`],
    ['no provider', `/subscriptions/${SUB}/resourceGroups/Plant/mq/a`],
  ])('%s is not a resource id', (_, id) => {
    expect(parseArmId(id)).toBeUndefined();
    expect(armTypeOf(id)).toBe('');
  });

  it('type, parent chain and name', () => {
    const listener = `${BROKER}/listener/l1`;
    expect(armTypeOf(listener)).toBe('Microsoft.IoTOperationsMQ/mq/broker/listener');
    expect(parentIdOf(listener)).toBe(BROKER);
    expect(parentIdOf(parentIdOf(BROKER)!)).toBeUndefined();
    expect(resourceNameOf(listener)).toBe('l1');
  });
});
