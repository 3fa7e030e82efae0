import { apiError } from '../common/errors.js';
import type { Store, SubscriptionRow, SubscriptionState } from '../store/index.js';

const STATES: readonly SubscriptionState[] = ['Registered', 'Warned', 'Suspended', 'Deleted', 'Unregistered'];

/**
 * `PUT /subscriptions/{id}?api-version=2.0`: ARM tells the RP a subscription's state [SUB-1..5].
 * Any transition is legal and the latest wins; `Deleted` purges the subscription's data, since no
 * per-resource DELETE will follow. The body is echoed, unknown keys included.
 */
export async function putSubscription(store: Store, subscriptionId: string, body: unknown): Promise<unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw apiError('InvalidRequestContent', { reason: 'the body must be a JSON object.' });
  }
  const { state, registrationDate, properties } = body as {
    state?: unknown;
    registrationDate?: unknown;
    properties?: unknown;
  };
  if (typeof state !== 'string' || !STATES.includes(state as SubscriptionState)) {
    throw apiError('BadRequest', { message: `'state' must be one of ${STATES.join(', ')}.` }, { target: 'state' });
  }
  const props = (typeof properties === 'object' && properties !== null ? properties : {}) as Record<string, unknown>;
  const row: SubscriptionRow = {
    id: subscriptionId,
    state: state as SubscriptionState,
    tenantId: typeof props.tenantId === 'string' ? props.tenantId : undefined,
    properties: props,
    registrationDate: typeof registrationDate === 'string' ? registrationDate : new Date().toUTCString(),
  };
  await store.subscriptions.put(row);
  if (row.state === 'Deleted') await store.subscriptions.deleteData(subscriptionId);
  return body;
}
