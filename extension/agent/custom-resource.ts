// ARM resource → custom resource, and custom resource → the status the RP should hear. Pure.
import { resourceNameOf } from '../../src/api/arm-id.js';
import { CR_API_VERSION, crObjectType } from '../../src/api/custom-resources.js';
import { isClusterError, type KubeObject, type ObjectType } from '../cluster/index.js';
import {
  AGENT_FINALIZER,
  ETAG_ANNOTATION,
  PROVIDER_LABEL,
  PROVIDER_LABEL_VALUE,
  RESOURCE_ID_ANNOTATION,
} from './constants.js';
import type { ArmResource, ReportedStatus, StatusReport } from '../../src/api/agent-protocol.js';
import { readyConditionOf } from '../../src/api/conditions.js';

export function crType(kind: string): ObjectType {
  return crObjectType(kind);
}

/** The CR name: the last segment of the ARM id (ARM nesting becomes `*Ref` fields, not CR nesting). */
export function crName(resourceId: string): string {
  return resourceNameOf(resourceId);
}

/** The custom resource the agent applies for an ARM resource: exactly the fields it owns. */
export function toCustomResource(
  kind: string,
  namespace: string,
  resourceId: string,
  etag: string,
  resource: ArmResource,
): KubeObject {
  const { provisioningState: _state, ...spec } = resource.properties ?? {};
  return {
    apiVersion: CR_API_VERSION,
    kind,
    metadata: {
      name: crName(resourceId),
      namespace,
      labels: { [PROVIDER_LABEL]: PROVIDER_LABEL_VALUE },
      annotations: { [RESOURCE_ID_ANNOTATION]: resourceId, [ETAG_ANNOTATION]: etag },
      finalizers: [AGENT_FINALIZER],
    },
    spec,
  };
}

/**
 * Whether the stored spec already says everything the agent wants: each wanted field present with
 * the same value. The API server may have added CRD defaults the ARM body left out; those are not
 * drift, so re-applying for them would only be a no-op write on every reconcile.
 */
export function specSatisfies(current: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    return (
      Array.isArray(current) && current.length === wanted.length && wanted.every((w, i) => specSatisfies(current[i], w))
    );
  }
  if (wanted && typeof wanted === 'object') {
    if (!current || typeof current !== 'object' || Array.isArray(current)) return false;
    return Object.entries(wanted).every(
      ([key, value]) => value === undefined || specSatisfies((current as Record<string, unknown>)[key], value),
    );
  }
  return current === wanted;
}

/**
 * What the cluster says about the generation the agent applied: Ready True → Succeeded, Ready
 * False with severity Error → Failed (its reason and message), anything else → still Provisioning.
 */
export function statusOf(cr: KubeObject): Omit<StatusReport, 'resourceId' | 'etag'> {
  const ready = readyConditionOf(cr.status);
  if (!ready || ready.observedGeneration !== cr.metadata.generation) return { status: 'Provisioning' };
  if (ready.status === 'True') return { status: 'Succeeded' };
  if (ready.status === 'False' && ready.severity === 'Error') {
    return {
      status: 'Failed',
      error: {
        code: ready.reason ?? 'ReconcileFailed',
        message: ready.message ?? 'The operator could not reconcile the resource.',
      },
    };
  }
  return { status: 'Provisioning' };
}

export function isTerminal(status: string | undefined): status is Extract<ReportedStatus, 'Succeeded' | 'Failed'> {
  return status === 'Succeeded' || status === 'Failed';
}

/**
 * The operation error for a custom resource the API server refused as invalid (422 with the
 * offending fields), or undefined for any other failure, which is worth retrying.
 */
export function refusalOf(kind: string, name: string, error: unknown): { code: string; message: string } | undefined {
  if (!isClusterError(error, 'Invalid') || error.status !== 422 || !error.causes.length) return undefined;
  const causes = error.causes.map((cause) => `${cause.field}: ${cause.message}`).join('; ');
  // An ARM name may hold capitals, a Kubernetes name may not; anything else is the CRD disagreeing.
  const what = error.causes.some((cause) => cause.field === 'metadata.name')
    ? 'Recreate the resource under a name of lower-case letters, digits and hyphens.'
    : 'Its CustomResourceDefinition may be of another release than the service; update the extension or the resource.';
  return { code: 'CustomResourceInvalid', message: `The cluster refused the ${kind} '${name}': ${causes}. ${what}` };
}
