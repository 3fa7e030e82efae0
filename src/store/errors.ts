import { ApiError, apiError, type ErrorName } from '../common/errors.js';

/**
 * Typed store errors, built from the shared catalogue (src/common/errors.ts) so the RP can both
 * `instanceof`-check them and render them as ARM errors unchanged (they are ApiErrors).
 */
function catalogued(name: ErrorName, params: Record<string, string | number>, target?: string): [number, ApiError] {
  const error = apiError(name, params, { target });
  return [error.status, error];
}

/** If-Match did not match the current ETag (or the resource is absent). */
export class PreconditionFailedError extends ApiError {
  constructor(id: string) {
    const [status, error] = catalogued('PreconditionFailed', { id }, id);
    super(status, error.toBody().error);
    this.name = 'PreconditionFailedError';
  }
}

/** If-None-Match: * and the resource exists. */
export class ConflictError extends ApiError {
  constructor(id: string) {
    const [status, error] = catalogued(
      'Conflict',
      { id, reason: 'the resource already exists (If-None-Match: *)' },
      id,
    );
    super(status, error.toBody().error);
    this.name = 'ConflictError';
  }
}

/** A feed reader is behind the compaction horizon and must relist. */
export class GoneError extends ApiError {
  constructor(
    readonly sinceRevision: number,
    readonly oldestRevision: number,
  ) {
    const [status, error] = catalogued('Gone', { since: sinceRevision, oldest: oldestRevision });
    super(status, error.toBody().error);
    this.name = 'GoneError';
  }
}

/** Bad input to the store: malformed id, bad skip token, the store called inside its own transaction. */
export class StoreUsageError extends ApiError {
  constructor(message: string) {
    const [status, error] = catalogued('BadRequest', { message });
    super(status, error.toBody().error);
    this.name = 'StoreUsageError';
  }
}
