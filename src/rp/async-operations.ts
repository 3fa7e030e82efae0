import { PROVIDER_NAMESPACE } from '../api/openapi.js';
import { apiError } from '../common/errors.js';
import type { OperationRow, ResourceRow, Store } from '../store/index.js';
import type { ArmRoute } from './arm-path.js';
import { etagHeader, subscriptionOf, TERMINAL, type Json } from './resource-body.js';
import type { RpRequest, RpResponse } from './resources.js';

type OperationRoute = Extract<ArmRoute, { kind: 'operationStatus' | 'operationResult' }>;

/**
 * The client's side of ARM async operations: the headers that start polling (Azure-AsyncOperation,
 * Location, Retry-After, all on the Referer's host [HDR-4, ASYNC-1]) and the two endpoints polled.
 * Operations live at subscription/location scope, so they outlive the resource they changed.
 */
export class AsyncOperations {
  constructor(
    private readonly store: Store,
    private readonly retryAfterSeconds: number,
  ) {}

  /** GET …/operationStatuses/{id}: 200 whenever the status is readable [ASYNC-2]. */
  async status(route: OperationRoute): Promise<RpResponse> {
    const operation = await this.operation(route.subscriptionId, route.operationId);
    const body: Json = {
      id: `/subscriptions/${route.subscriptionId}/providers/${PROVIDER_NAMESPACE}/locations/${route.location}/operationStatuses/${operation.id}`,
      name: operation.id,
      resourceId: operation.resourceId,
      status: operation.status === 'Accepted' ? 'Accepted' : operation.status,
      startTime: operation.startTime,
      percentComplete: TERMINAL.has(operation.status) ? 100 : 0,
    };
    if (operation.endTime) body.endTime = operation.endTime;
    if (operation.error) body.error = operation.error;
    const headers: Record<string, string> = TERMINAL.has(operation.status)
      ? {}
      : { 'retry-after': String(this.retryAfterSeconds) };
    return { status: 200, headers, body };
  }

  /** GET …/operationResults/{id}: 202 while running, then what the synchronous call would answer [ASYNC-6]. */
  async result(route: OperationRoute, request: RpRequest): Promise<RpResponse> {
    const operation = await this.operation(route.subscriptionId, route.operationId);
    if (!TERMINAL.has(operation.status)) {
      return {
        status: 202,
        headers: {
          location: this.operationUrl(request, route.subscriptionId, route.location, operation.id, 'operationResults'),
          'retry-after': String(this.retryAfterSeconds),
        },
      };
    }
    if (operation.status !== 'Succeeded') return { status: 400, body: { error: operation.error } };
    if (operation.kind === 'delete') return { status: 204 };
    const row = await this.store.resources.get(operation.resourceId);
    return row ? { status: 200, headers: etagHeader(row), body: row.body } : { status: 204 };
  }

  acceptedPut(row: ResourceRow, operation: OperationRow, request: RpRequest, created: boolean): RpResponse {
    const location = row.body.location as string;
    const sub = subscriptionOf(row.id);
    return {
      status: created ? 201 : 200,
      headers: {
        ...etagHeader(row),
        'azure-asyncoperation': this.operationUrl(request, sub, location, operation.id, 'operationStatuses'),
        'retry-after': String(this.retryAfterSeconds),
      },
      body: row.body,
    };
  }

  acceptedDelete(operation: OperationRow, row: ResourceRow, request: RpRequest): RpResponse {
    const location = row.body.location as string;
    const sub = subscriptionOf(row.id);
    return {
      status: 202,
      headers: {
        location: this.operationUrl(request, sub, location, operation.id, 'operationResults'),
        'azure-asyncoperation': this.operationUrl(request, sub, location, operation.id, 'operationStatuses'),
        'retry-after': String(this.retryAfterSeconds),
      },
    };
  }

  private operationUrl(request: RpRequest, subscriptionId: string, location: string, id: string, kind: string): string {
    return `${request.baseUrl}/subscriptions/${subscriptionId}/providers/${PROVIDER_NAMESPACE}/locations/${location}/${kind}/${id}?api-version=${encodeURIComponent(request.apiVersion)}`;
  }

  private async operation(subscriptionId: string, operationId: string): Promise<OperationRow> {
    const operation = await this.store.operations.get(operationId);
    if (!operation || subscriptionOf(operation.resourceId).toLowerCase() !== subscriptionId.toLowerCase()) {
      throw apiError('OperationNotFound', { operationId });
    }
    return operation;
  }
}
