// Conditions on the status of our custom resources: the contract between the operator, which writes
// them, and the agent, which turns them into the status reports the RP hears. Kubernetes' shape
// (type, status, reason, message, observedGeneration, lastTransitionTime) plus severity.

export const READY = 'Ready';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  /** PascalCase; on Ready=False with severity Error, the code the RP reports as the failure. */
  reason?: string;
  message?: string;
  /** `Error` marks a terminal failure; anything else on a False condition is progress. */
  severity?: 'Error' | 'Warning' | 'Info';
  observedGeneration?: number;
  lastTransitionTime?: string;
}

/** The Ready condition among a custom resource's conditions. */
export function readyConditionOf(status: { conditions?: unknown } | undefined): Condition | undefined {
  const conditions = (status?.conditions ?? []) as Condition[];
  return conditions.find((c) => c.type === READY);
}
