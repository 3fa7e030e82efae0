// What every part of render shares: names of what it makes, the verdict book, ownership and labels,
// and the check of a custom resource's spec against its section of the broker config contract.
import { specContracts } from '../../../src/api/broker-config-schema.js';
import { readyConditionOf } from '../../../src/api/conditions.js';
import type { KubeObject, OwnerReference } from '../../cluster/index.js';
import { INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, REASONS } from '../constants.js';
import type { Verdict } from '../plan.js';

export const verdictKey = (cr: Pick<KubeObject, 'kind' | 'metadata'>) => `${cr.kind}/${cr.metadata.name}`;
export const configMapName = (broker: string) => `${broker}-config`;
export const workloadName = (broker: string) => `${broker}-frontend`;

/** A custom resource with its spec checked against the contract and the spec's defaults filled in. */
export interface Checked<T> {
  cr: KubeObject;
  name: string;
  spec: T;
}

export class Verdicts {
  readonly map = new Map<string, Verdict>();
  fail(cr: KubeObject, reason: string, message: string): false {
    this.map.set(verdictKey(cr), { ok: false, reason, message });
    return false;
  }
  set(cr: KubeObject, verdict: Verdict): void {
    this.map.set(verdictKey(cr), verdict);
  }
  get(cr: KubeObject): Verdict | undefined {
    return this.map.get(verdictKey(cr));
  }
}

/**
 * The CR's spec as the broker will read it, or undefined (and an InvalidSpec verdict) when the
 * broker would refuse it — a CR made with kubectl past an older CRD, a field the broker does not know.
 */
export function checkSpec<T>(
  cr: KubeObject,
  section: keyof typeof specContracts,
  verdicts: Verdicts,
): Checked<T> | undefined {
  const { value, violations } = specContracts[section].check(cr.spec ?? {});
  const first = violations[0];
  if (first) {
    // e.g. "The broker cannot use this spec: 'tls.keyVault' is not a known property."
    verdicts.fail(cr, REASONS.InvalidSpec, `The broker cannot use this spec: ${first.message}`);
    return undefined;
  }
  return { cr, name: cr.metadata.name, spec: value as T };
}

export const byAge = (a: KubeObject, b: KubeObject) =>
  (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
  a.metadata.name.localeCompare(b.metadata.name);

export function isReady(cr: KubeObject): boolean {
  return readyConditionOf(cr.status)?.status === 'True';
}

export function ownerOf(cr: KubeObject): OwnerReference[] {
  return [
    {
      apiVersion: cr.apiVersion,
      kind: cr.kind,
      name: cr.metadata.name,
      uid: cr.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

export function labelsFor(broker: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [INSTANCE_LABEL]: broker, [NAME_LABEL]: 'iotmq-broker' };
}
