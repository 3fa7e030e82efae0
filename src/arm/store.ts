import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDatabase } from '../common/private-files.js';
import { resourceKey as key, resourceTable, type ResourceTable } from './store-resources.js';

/**
 * The front door's own state: what ARM and Azure AD know and an RP never sees (tenants, service
 * principals, subscriptions, resource groups, provider registrations, the resources the front door
 * owns itself — connected clusters and custom locations — the index of RP resources that backs
 * `/resources` listings and resource-group cascade, and deployments). One SQLite file (WAL), apart
 * from the RP's store: the RP must not reach around the RPC contract into it.
 *
 * better-sqlite3 is synchronous and the front door is one process, so there is no locking here.
 */
export interface Tenant {
  id: string;
  displayName: string;
}

export interface ServicePrincipal {
  clientId: string;
  tenantId: string;
  objectId: string;
  displayName: string;
  /** `scrypt$N$r$p$salt$hash` (base64url); the secret itself is never stored. */
  secretHash: string;
  /** A connected cluster's id when this principal acts as that cluster's identity (agent tokens carry it as `xms_mirid`). */
  managedIdentityResourceId?: string;
}

export interface Subscription {
  id: string;
  tenantId: string;
  displayName: string;
  state: 'Enabled' | 'Disabled' | 'Deleted';
}

export interface ResourceGroup {
  subscriptionId: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
  managedBy?: string;
  provisioningState: 'Succeeded' | 'Deleting';
}

export type RegistrationState = 'Registered' | 'NotRegistered' | 'Registering' | 'Unregistering';

/** A resource in the generic index: owned by the front door (`local`) or by an RP (`rp`, a cached envelope). */
export interface IndexedResource {
  id: string;
  owner: 'local' | 'rp';
  body: Record<string, unknown>;
}

export interface DeploymentRecord {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** The deployment as GET returns it. */
  body: Record<string, unknown>;
  operations: Record<string, unknown>[];
  /** The template, kept for validate/export; never returned with secure values. */
  template?: unknown;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, display_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS principals (
  client_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, object_id TEXT NOT NULL, display_name TEXT NOT NULL,
  secret_hash TEXT NOT NULL, mi_resource_id TEXT);
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, display_name TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resource_groups (
  subscription_id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (subscription_id, key));
CREATE TABLE IF NOT EXISTS registrations (
  subscription_id TEXT NOT NULL, namespace TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (subscription_id, namespace));
CREATE TABLE IF NOT EXISTS resources (
  key TEXT PRIMARY KEY, id TEXT NOT NULL, owner TEXT NOT NULL, subscription_id TEXT NOT NULL, resource_group TEXT NOT NULL,
  type TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS resources_by_group ON resources (subscription_id, resource_group);
CREATE TABLE IF NOT EXISTS deployments (
  key TEXT PRIMARY KEY, subscription_id TEXT NOT NULL, resource_group TEXT NOT NULL, body TEXT NOT NULL,
  operations TEXT NOT NULL, template TEXT);
`;

export interface ArmStore {
  tenants: {
    put(tenant: Tenant): void;
    get(id: string): Tenant | undefined;
    list(): Tenant[];
  };
  principals: {
    put(principal: ServicePrincipal): void;
    get(clientId: string): ServicePrincipal | undefined;
  };
  subscriptions: {
    put(subscription: Subscription): void;
    get(id: string): Subscription | undefined;
    list(): Subscription[];
  };
  resourceGroups: {
    put(group: ResourceGroup): void;
    get(subscriptionId: string, name: string): ResourceGroup | undefined;
    list(subscriptionId: string): ResourceGroup[];
    delete(subscriptionId: string, name: string): void;
  };
  registrations: {
    get(subscriptionId: string, namespace: string): RegistrationState;
    put(subscriptionId: string, namespace: string, state: RegistrationState): void;
  };
  resources: ResourceTable;
  deployments: {
    put(deployment: DeploymentRecord): void;
    get(id: string): DeploymentRecord | undefined;
    list(subscriptionId: string, resourceGroup: string): DeploymentRecord[];
    delete(id: string): void;
  };
  close(): void;
}

export function openArmStore(path: string): ArmStore {
  const file = resolve(path);
  mkdirSync(dirname(file), { recursive: true });
  ensurePrivateDatabase(file); // service principals' secret hashes: the owner's only
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Tenants, principals, subscriptions, groups, registrations, deployments and the front door's own
  // resources exist nowhere else: FULL. The RP index has its own connection (store-resources.ts).
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  const indexDb = new Database(file);
  indexDb.pragma('synchronous = NORMAL');
  // Prepared once per SQL text: compiling a statement costs more than running these small queries.
  const statements = new Map<string, Database.Statement>();
  const q = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  const resources = resourceTable(q, indexDb, (error) =>
    process.emitWarning(`the ARM resource index could not be written: ${String(error)}`),
  );

  const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
  const toDeployment = (row: { body: string; operations: string; template: string | null }): DeploymentRecord => ({
    ...(json(row.body).__record as Omit<DeploymentRecord, 'body' | 'operations' | 'template'>),
    body: (() => {
      const { __record: _ignored, ...rest } = json(row.body);
      return rest;
    })(),
    operations: JSON.parse(row.operations) as Record<string, unknown>[],
    template: row.template === null ? undefined : JSON.parse(row.template),
  });

  return {
    tenants: {
      put: (t) =>
        void q('INSERT OR REPLACE INTO tenants (id, display_name) VALUES (?, ?)').run(
          t.id.toLowerCase(),
          t.displayName,
        ),
      get: (id) => {
        const row = q('SELECT id, display_name FROM tenants WHERE id = ?').get(id.toLowerCase()) as
          { id: string; display_name: string } | undefined;
        return row && { id: row.id, displayName: row.display_name };
      },
      list: () =>
        (q('SELECT id, display_name FROM tenants ORDER BY id').all() as { id: string; display_name: string }[]).map(
          (r) => ({ id: r.id, displayName: r.display_name }),
        ),
    },
    principals: {
      put: (p) =>
        void db
          .prepare(
            'INSERT OR REPLACE INTO principals (client_id, tenant_id, object_id, display_name, secret_hash, mi_resource_id) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(
            p.clientId.toLowerCase(),
            p.tenantId.toLowerCase(),
            p.objectId,
            p.displayName,
            p.secretHash,
            p.managedIdentityResourceId ?? null,
          ),
      get: (clientId) => {
        const row = q('SELECT * FROM principals WHERE client_id = ?').get(clientId.toLowerCase()) as
          | {
              client_id: string;
              tenant_id: string;
              object_id: string;
              display_name: string;
              secret_hash: string;
              mi_resource_id: string | null;
            }
          | undefined;
        return (
          row && {
            clientId: row.client_id,
            tenantId: row.tenant_id,
            objectId: row.object_id,
            displayName: row.display_name,
            secretHash: row.secret_hash,
            managedIdentityResourceId: row.mi_resource_id ?? undefined,
          }
        );
      },
    },
    subscriptions: {
      put: (s) =>
        void q('INSERT OR REPLACE INTO subscriptions (id, tenant_id, display_name, state) VALUES (?, ?, ?, ?)').run(
          s.id.toLowerCase(),
          s.tenantId.toLowerCase(),
          s.displayName,
          s.state,
        ),
      get: (id) => {
        const row = q('SELECT * FROM subscriptions WHERE id = ?').get(id.toLowerCase()) as
          { id: string; tenant_id: string; display_name: string; state: string } | undefined;
        return (
          row && {
            id: row.id,
            tenantId: row.tenant_id,
            displayName: row.display_name,
            state: row.state as Subscription['state'],
          }
        );
      },
      list: () =>
        (
          q('SELECT * FROM subscriptions ORDER BY id').all() as {
            id: string;
            tenant_id: string;
            display_name: string;
            state: string;
          }[]
        ).map((row) => ({
          id: row.id,
          tenantId: row.tenant_id,
          displayName: row.display_name,
          state: row.state as Subscription['state'],
        })),
    },
    resourceGroups: {
      put: (g) =>
        void q('INSERT OR REPLACE INTO resource_groups (subscription_id, key, body) VALUES (?, ?, ?)').run(
          g.subscriptionId.toLowerCase(),
          g.name.toLowerCase(),
          JSON.stringify(g),
        ),
      get: (sub, name) => {
        const row = q('SELECT body FROM resource_groups WHERE subscription_id = ? AND key = ?').get(
          sub.toLowerCase(),
          name.toLowerCase(),
        ) as { body: string } | undefined;
        return row && (JSON.parse(row.body) as ResourceGroup);
      },
      list: (sub) =>
        (
          q('SELECT body FROM resource_groups WHERE subscription_id = ? ORDER BY key').all(sub.toLowerCase()) as {
            body: string;
          }[]
        ).map((r) => JSON.parse(r.body) as ResourceGroup),
      delete: (sub, name) =>
        void q('DELETE FROM resource_groups WHERE subscription_id = ? AND key = ?').run(
          sub.toLowerCase(),
          name.toLowerCase(),
        ),
    },
    registrations: {
      get: (sub, ns) =>
        ((
          q('SELECT state FROM registrations WHERE subscription_id = ? AND namespace = ?').get(
            sub.toLowerCase(),
            ns.toLowerCase(),
          ) as { state: string } | undefined
        )?.state ?? 'NotRegistered') as RegistrationState,
      put: (sub, ns, state) =>
        void q('INSERT OR REPLACE INTO registrations (subscription_id, namespace, state) VALUES (?, ?, ?)').run(
          sub.toLowerCase(),
          ns.toLowerCase(),
          state,
        ),
    },
    resources,
    deployments: {
      put: (d) => {
        const { subscriptionId, resourceGroup } = {
          subscriptionId: d.subscriptionId.toLowerCase(),
          resourceGroup: d.resourceGroup.toLowerCase(),
        };
        const record = { id: d.id, subscriptionId: d.subscriptionId, resourceGroup: d.resourceGroup, name: d.name };
        q(
          'INSERT OR REPLACE INTO deployments (key, subscription_id, resource_group, body, operations, template) VALUES (?, ?, ?, ?, ?, ?)',
        ).run(
          key(d.id),
          subscriptionId,
          resourceGroup,
          JSON.stringify({ ...d.body, __record: record }),
          JSON.stringify(d.operations),
          d.template === undefined ? null : JSON.stringify(d.template),
        );
      },
      get: (id) => {
        const row = q('SELECT body, operations, template FROM deployments WHERE key = ?').get(key(id)) as
          { body: string; operations: string; template: string | null } | undefined;
        return row && toDeployment(row);
      },
      list: (sub, rg) =>
        (
          q(
            'SELECT body, operations, template FROM deployments WHERE subscription_id = ? AND resource_group = ? ORDER BY key',
          ).all(sub.toLowerCase(), rg.toLowerCase()) as {
            body: string;
            operations: string;
            template: string | null;
          }[]
        ).map(toDeployment),
      delete: (id) => void q('DELETE FROM deployments WHERE key = ?').run(key(id)),
    },
    close: () => {
      resources.flush();
      indexDb.close();
      db.close();
    },
  };
}
