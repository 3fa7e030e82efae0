import { parentIdOf } from '../api/arm-id.js';
import { componentLogger } from '../common/log.js';
import { apiError } from '../common/errors.js';
import type { OperationRow, Store, StoreTx } from '../store/index.js';
import type { CustomLocationDirectory } from './custom-locations.js';
import { withState } from './resource-body.js';

// The report and its outcomes are the agent protocol's (src/api/agent-protocol.ts).
import type { ReportOutcome, StatusReport } from '../api/agent-protocol.js';
export type { ReportOutcome, StatusReport };

const log = componentLogger('rp.cluster-sync');

/** What one report will do: its outcome, and the write (inside the batch's transaction) if any. */
interface Decision {
  outcome: ReportOutcome;
  write?: (tx: StoreTx) => Promise<void>;
  /** The id of the resource the write deletes. */
  deletes?: string;
}

/**
 * Completes async operations from the cluster side: status reports from agents, and the deadline
 * after which an operation no agent answered fails as "cluster not connected".
 */
export class ClusterSync {
  constructor(
    private readonly store: Store,
    private readonly customLocations: CustomLocationDirectory,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The custom locations (lower-cased ids) whose resources a cluster's agent may see. */
  async scopeOf(clusterId: string): Promise<string[]> {
    return (await this.customLocations.forCluster(clusterId)).map((l) => l.id.toLowerCase());
  }

  /**
   * Applies a batch of reports all or nothing: every report is decided first (reads only), then
   * every change is written in one transaction. A report on a resource this cluster does not host
   * is answered `stale` and changes nothing — exactly the answer for a resource that does not exist
   * (deleted meanwhile), so an agent learns nothing about other clusters' resources, and one such
   * report cannot wedge an honest agent's whole batch [issue 11 item 14].
   */
  async reportBatch(clusterId: string, reports: StatusReport[]): Promise<ReportOutcome[]> {
    const scope = await this.scopeOf(clusterId);
    const decisions: Decision[] = [];
    const deleting = new Set<string>(); // ids this batch deletes: a parent reported after its children may go too
    for (const report of reports) {
      const decision = await this.decide(clusterId, scope, report, deleting);
      if (decision.deletes) deleting.add(decision.deletes.toLowerCase());
      decisions.push(decision);
    }
    const writes = decisions.flatMap((d) => (d.write ? [d.write] : []));
    if (writes.length > 0) {
      await this.store.transaction(async (tx) => {
        for (const write of writes) await write(tx);
      });
    }
    for (const d of decisions) if (d.deletes) log.info({ resourceId: d.deletes }, 'deleted on the cluster');
    return decisions.map((d) => d.outcome);
  }

  private async decide(
    clusterId: string,
    scope: string[],
    report: StatusReport,
    deleting: Set<string>,
  ): Promise<Decision> {
    const row = await this.store.resources.get(report.resourceId);
    if (row && (!row.customLocation || !scope.includes(row.customLocation))) {
      log.warn({ clusterId, resourceId: report.resourceId }, 'status report on a resource the cluster does not host');
      return { outcome: 'stale' };
    }
    if (!row || row.etag !== report.etag) return { outcome: 'stale' };
    const state = (row.body.properties as { provisioningState?: string } | undefined)?.provisioningState;

    if (report.status === 'Deleted') {
      if (state !== 'Deleting') return { outcome: 'stale' }; // a delete report only ends a delete
      const goneWithBatch = [...deleting].filter((id) => parentIdOf(id)?.toLowerCase() === row.id.toLowerCase()).length;
      if ((await this.store.resources.countChildren(row.id)) > goneWithBatch) return { outcome: 'pending' };
      const operation = await this.activeOperation(report.resourceId, row.etag);
      return {
        outcome: 'applied',
        deletes: row.id,
        write: async (tx) => {
          await tx.resources.delete(row.id);
          if (operation)
            await tx.operations.update(operation.id, { status: 'Succeeded', endTime: this.now().toISOString() });
        },
      };
    }
    if (state === 'Deleting') return { outcome: 'stale' }; // the cluster is still catching up with the delete

    const terminal = report.status === 'Succeeded' || report.status === 'Failed';
    const operation = await this.activeOperation(report.resourceId, row.etag);
    return {
      outcome: 'applied',
      write: async (tx) => {
        if (state !== report.status) {
          await tx.resources.put(
            {
              id: row.id,
              type: row.type,
              body: withState(row.body, report.status),
              etag: row.etag,
              customLocation: row.customLocation,
            },
            { ifMatch: row.etag },
          );
        }
        if (operation) {
          await tx.operations.update(
            operation.id,
            terminal
              ? {
                  status: report.status as 'Succeeded' | 'Failed',
                  endTime: this.now().toISOString(),
                  error: report.status === 'Failed' ? clusterError(report) : undefined,
                }
              : { status: 'Running' },
            { expectedEtag: row.etag },
          );
        }
      },
    };
  }

  /** Fails every operation past its deadline; its resource shows Failed (if nothing newer came). */
  async expireOperations(): Promise<number> {
    const expired = await this.store.operations.listExpired(this.now().toISOString());
    for (const operation of expired) {
      const row = await this.store.resources.get(operation.resourceId);
      const customLocation = (row?.body.extendedLocation as { name?: string } | undefined)?.name ?? 'unknown';
      const seconds = Math.round((Date.parse(operation.deadline) - Date.parse(operation.startTime)) / 1000);
      const error = apiError('ClusterNotConnected', { customLocation, seconds }).toBody().error;
      await this.store.transaction(async (tx) => {
        const updated = await tx.operations.update(operation.id, {
          status: 'Failed',
          endTime: this.now().toISOString(),
          error,
        });
        if (updated && row && row.etag === operation.expectedEtag) {
          await tx.resources.put(
            {
              id: row.id,
              type: row.type,
              body: withState(row.body, 'Failed'),
              etag: row.etag,
              customLocation: row.customLocation,
            },
            { ifMatch: row.etag },
          );
        }
      });
      log.warn({ operationId: operation.id, resourceId: operation.resourceId }, 'operation expired: no agent reported');
    }
    return expired.length;
  }

  private async activeOperation(resourceId: string, etag: string): Promise<OperationRow | undefined> {
    const operation = await this.store.operations.activeFor(resourceId);
    return operation && operation.expectedEtag === etag ? operation : undefined;
  }
}

function clusterError(report: StatusReport): { code: string; message: string } {
  return {
    code: report.error?.code ?? 'ClusterReconcileFailed',
    message: report.error?.message ?? 'The cluster could not apply the resource.',
  };
}
