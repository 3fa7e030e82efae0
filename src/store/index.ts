import { StoreUsageError } from './errors.js';
import type { Store } from './types.js';

export * from './types.js';
export * from './errors.js';
export { parseArmId } from './arm-id.js';

/**
 * Opens a store from a URL: `sqlite:<path>` (embedded default) or `postgres://…` / `postgresql://…`.
 * Migrations are applied on open. Backends are imported lazily so a process loads only its driver.
 */
export async function createStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const { openSqliteStore } = await import('./sqlite.js');
    return openSqliteStore(url.slice('sqlite:'.length));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(url);
  }
  throw new StoreUsageError(
    `Unsupported store URL '${url.replace(/\/\/[^@/]*@/, '//***@')}': use sqlite:<path> or postgres://…`,
  );
}
