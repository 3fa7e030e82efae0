// The Ready condition of a CR from its render verdict and what the driver reports: PascalCase
// reason, severity Error for what only a change of the resources can fix, observedGeneration.
import { READY, type Condition } from '../../src/api/conditions.js';
import type { PlanOutcome, Verdict } from './plan.js';

export function readyCondition(
  verdict: Verdict | undefined,
  outcome: PlanOutcome,
  generation: number,
  previous: Condition | undefined,
  now: string,
): Condition {
  let next: Omit<Condition, 'lastTransitionTime'>;
  if (!verdict) {
    next = {
      type: READY,
      status: 'False',
      reason: 'Pending',
      message: 'Not rendered yet.',
      severity: 'Info',
      observedGeneration: generation,
    };
  } else if (!verdict.ok) {
    next = {
      type: READY,
      status: 'False',
      reason: verdict.reason,
      message: verdict.message,
      severity: 'Error',
      observedGeneration: generation,
    };
  } else {
    const waiting = [
      ...verdict.workloads.map((w) => [w, outcome.workloads.get(w)] as const),
      ...verdict.services.map((s) => [s, outcome.services.get(s)] as const),
    ].find(([, state]) => !state?.ready);
    next = waiting
      ? {
          type: READY,
          status: 'False',
          reason: 'Starting',
          message: waiting[1]?.message ?? `Waiting for ${waiting[0]}.`,
          severity: 'Info',
          observedGeneration: generation,
        }
      : { type: READY, status: 'True', reason: 'Ready', message: verdict.message, observedGeneration: generation };
  }
  const transitioned = previous?.status !== next.status;
  return {
    ...next,
    lastTransitionTime: transitioned || !previous?.lastTransitionTime ? now : previous.lastTransitionTime,
  };
}

export function sameCondition(a: Condition | undefined, b: Condition): boolean {
  return (
    !!a &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.severity === b.severity &&
    a.observedGeneration === b.observedGeneration
  );
}
