// Case-insensitive id indexes. On insert PocketBase checks that a new record id is not taken with
// `WHERE id = ? COLLATE NOCASE` whenever a collection's id pattern is not its default `^[a-z0-9]+$`. Ours
// allow the type prefix (`use_…`), and the primary key's BINARY index cannot serve a NOCASE comparison, so
// every insert scanned the whole table: usage_logs inserts fell from ~2,000/s to ~600/s within 25,000 rows.
// A NOCASE index on id makes that check a lookup. It is not declared unique (the primary key already is, and
// PocketBase refuses to drop a unique index on a system field, which would make this migration irreversible).

const COLLECTIONS = [
  "plans",
  "tenants",
  "users",
  "memberships",
  "api_keys",
  "audit_logs",
  "providers",
  "models",
  "subscriptions",
  "budgets",
  "stripe_events",
  "usage_logs",
  "workspaces",
  "trace_sessions",
  "traces",
  "spans",
  "shared_items",
  "analytics_rollups",
  "signing_keys",
  "refresh_tokens",
  "invitations",
];

const indexName = (collection) => `idx_${collection}_id_nocase`;

migrate(
  (app) => {
    for (const name of COLLECTIONS) {
      const collection = app.findCollectionByNameOrId(name);
      collection.addIndex(indexName(name), false, "`id` COLLATE NOCASE", "");
      app.save(collection);
    }
  },
  (app) => {
    for (const name of COLLECTIONS) {
      const collection = app.findCollectionByNameOrId(name);
      collection.removeIndex(indexName(name));
      app.save(collection);
    }
  },
);
