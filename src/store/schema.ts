import type { Migrations } from './sql-backend.js';

/**
 * The schema, shared by both backends up to column types: `text` is `TEXT COLLATE "C"` on PostgreSQL
 * so that keys order bytewise as in SQLite (keyset paging and the prefix range of cascade delete rely
 * on it), `int` is BIGINT there.
 */
export function buildMigrations(text: string, int: string): Migrations {
  return [
    [
      `CREATE TABLE resources (
        key ${text} PRIMARY KEY,
        id ${text} NOT NULL,
        type ${text} NOT NULL,
        type_key ${text} NOT NULL,
        subscription_id ${text} NOT NULL,
        resource_group ${text},
        parent_key ${text},
        custom_location ${text},
        body ${text} NOT NULL,
        etag ${text} NOT NULL,
        revision ${int} NOT NULL
      )`,
      'CREATE INDEX resources_by_parent ON resources (parent_key, type_key, key)',
      'CREATE INDEX resources_by_group ON resources (subscription_id, resource_group, type_key, key)',
      'CREATE INDEX resources_by_subscription ON resources (subscription_id, type_key, key)',
      'CREATE INDEX resources_by_location ON resources (custom_location, key)',
      // The change feed. Deletes are tombstones (no body); compaction removes old events.
      `CREATE TABLE changes (
        revision ${int} PRIMARY KEY,
        kind ${text} NOT NULL CHECK (kind IN ('upsert', 'delete')),
        key ${text} NOT NULL,
        id ${text} NOT NULL,
        type ${text} NOT NULL,
        custom_location ${text},
        etag ${text},
        body ${text}
      )`,
      'CREATE INDEX changes_by_location ON changes (custom_location, revision)',
      `CREATE TABLE operations (
        id ${text} PRIMARY KEY,
        resource_key ${text} NOT NULL,
        resource_id ${text} NOT NULL,
        status ${text} NOT NULL,
        kind ${text} NOT NULL,
        expected_etag ${text} NOT NULL,
        start_time ${text} NOT NULL,
        end_time ${text},
        error ${text},
        deadline ${text} NOT NULL
      )`,
      'CREATE INDEX operations_by_resource ON operations (resource_key, start_time)',
      "CREATE INDEX operations_open ON operations (deadline) WHERE status IN ('Accepted', 'Running')",
      `CREATE TABLE subscriptions (
        id ${text} PRIMARY KEY,
        state ${text} NOT NULL,
        tenant_id ${text},
        properties ${text} NOT NULL,
        registration_date ${text} NOT NULL
      )`,
      // compacted_through: every event with revision <= it was removed.
      `CREATE TABLE meta (name ${text} PRIMARY KEY, value ${int} NOT NULL)`,
      "INSERT INTO meta (name, value) VALUES ('compacted_through', 0)",
    ],
  ];
}
