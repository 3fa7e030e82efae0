import { componentLogger } from '../common/log.js';
import { apiError } from '../common/errors.js';
import type { OperationRow, Store } from '../store/index.js';
import type { CustomLocationDirectory } from './custom-locations.js';
import { withState } from './resource-body.js';

/**
 * A cluster's word on one resource, as its agent posts it. `etag` is the ETag of the desired state
 * the agent applied: a report for an older ETag can never complete a newer operation.
 */
export interface StatusReport {
  resourceId: string;
  etag: string;
  /** Non-terminal values show progress on GET; `Deleted` means the cluster has removed it. */
  status: 'Provisioning' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleted';
  error?: { code: string; message: string };
}

/**
 * `pending`: a `Deleted` report for a resource whose children are still being deleted. The parent's
 * DELETE must not complete before its whole subtree is gone from the cluster [DEL-4], so the agent
 * sends the report again later.
 */
export type ReportOutcome = 'applied' | 'stale' | 'pending';

const log = componentLogger('rp.cluster-sync');

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

  async report(clusterId: string, report: StatusReport): Promise<ReportOutcome> {
    const row = await this.store.resources.get(report.resourceId);
    const scope = await this.scopeOf(clusterId);
    if (row && (!row.customLocation || !scope.includes(row.customLocation))) {
      throw apiError('AuthorizationFailed', {
        reason: `The cluster '${clusterId}' does not host '${report.resourceId}'.`,
      });
    }
    if (!row || row.etag !== report.etag) return 'stale';
    const state = (row.body.properties as { provisioningState?: string } | undefined)?.provisioningState;

    if (report.status === 'Deleted') {
      if (state !== 'Deleting') return 'stale'; // a delete report only ends a delete
      if ((await this.store.resources.countChildren(row.id)) > 0) return 'pending';
      const operation = await this.activeOperation(report.resourceId, row.etag);
      await this.store.transaction(async (tx) => {
        await tx.resources.delete(row.id);
        if (operation)
          await tx.operations.update(operation.id, { status: 'Succeeded', endTime: this.now().toISOString() });
      });
      log.info({ resourceId: row.id }, 'deleted on the cluster');
      return 'applied';
    }
    if (state === 'Deleting') return 'stale'; // the cluster is still catching up with the delete

    const terminal = report.status === 'Succeeded' || report.status === 'Failed';
    const operation = await this.activeOperation(report.resourceId, row.etag);
    await this.store.transaction(async (tx) => {
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
    });
    return 'applied';
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
