// What a render produces and a driver consumes.
import type { KubeObject } from '../cluster/index.js';

/** Where a workload finds its mounted files, as seen by the workload (container or local process). */
export interface Layout {
  /** ConfigMap N key K is `<configMapsDir>/N/K`. */
  configMapsDir: string;
  /** Secret N key K is `<secretsDir>/N/K`. */
  secretsDir: string;
  /** Per-broker state directory root (`<dataDir>/<broker>`). */
  dataDir: string;
  /** Address listeners bind. */
  bindAddress: string;
  /**
   * How a workload reaches the Kubernetes API (TokenReview for `sat` authentication); absent where
   * there is none (the local driver), and then `sat` methods are refused as unsupported.
   */
  kubernetes?: { tokenReviewUrl: string; caFile?: string; tokenFile?: string };
}

/** The verdict of render on one CR: what it waits for, or why it cannot work. */
export type Verdict =
  | {
      ok: true;
      /** Services whose ports must accept */ services: string[];
      /** Deployments that must run */ workloads: string[];
      message: string;
    }
  | { ok: false; reason: string; message: string };

export interface Plan {
  namespace: string;
  /** ConfigMaps, Secrets, Services, Deployments, StatefulSets; all labelled and owned. */
  objects: KubeObject[];
  /** By `kind/name` of each reconciled CR. */
  verdicts: Map<string, Verdict>;
}

export interface WorkloadState {
  ready: boolean;
  message: string;
}

export interface PlanOutcome {
  /** By Deployment/StatefulSet name. */
  workloads: Map<string, WorkloadState>;
  /** By Service name. */
  services: Map<string, WorkloadState>;
}

export interface Driver {
  readonly layout: Layout;
  /** Ports among these that something other than this driver's workloads holds (local only). */
  portsInUse(namespace: string, ports: number[]): Promise<Set<number>>;
  /** Converges the namespace to the plan: creates, updates and prunes what the operator manages. */
  apply(plan: Plan): Promise<PlanOutcome>;
  /** Called when a workload changes state on its own (crash, became ready). */
  onChange(listener: (namespace: string) => void): void;
  stop(): Promise<void>;
}
