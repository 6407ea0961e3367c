// usage_period_totals from a table of sums instead of a GROUP BY over usage_logs.
// Conventions: see 1767225600_control_plane.js.
//
// The billing worker refreshes a period's `budgets` snapshot from usage_period_totals every few seconds while
// usage arrives, and admission rebuilds its counters from it after Redis lost them. As a GROUP BY over
// usage_logs, every such read cost time in proportion to the period's logs: with 300,000 logs of a tenant
// stored, the refreshes alone took a sixth off the usage pipeline's throughput, and a busy tenant's month
// (millions of logs) would keep PocketBase summing. `usage_period_sums` holds the same sums per (tenant,
// period, key, user), changed in the transaction that writes the logs (the host program: usage_sums.go), so
// they stay a pure function of the stored logs; the view reads those few rows. A plain SQLite table, not a
// collection: nothing reads it but the view. (SQLite triggers would keep it too, but made each insert of the
// bulk route 2-3 times dearer.) The view casts its columns for PocketBase's field types, so its filters
// (tenant and period; period alone for the rollover) go through indexes on those same expressions.
//
// Deploy the host binary and this migration together: that binary writes the sums (without the table every
// write of a log fails), and an older binary on a migrated database would write logs without them.

const QUERY_COUNTED = "CASE WHEN status = 'error' AND billed_micros = 0 THEN 0 ELSE 1 END";

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS usage_period_sums (
  tenant TEXT NOT NULL,
  period TEXT NOT NULL,
  api_key TEXT NOT NULL,
  user TEXT NOT NULL,
  billed_micros INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0,
  queries INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, period, api_key, user)
) WITHOUT ROWID`;

const BACKFILL = `
INSERT INTO usage_period_sums (tenant, period, api_key, user, billed_micros, cost_micros, requests, queries)
SELECT tenant, period, api_key, user, SUM(billed_micros), SUM(cost_micros), COUNT(*), SUM(${QUERY_COUNTED})
FROM usage_logs
GROUP BY tenant, period, api_key, user`;

const INDEXES = [
  "CREATE INDEX IF NOT EXISTS idx_usage_period_sums_tenant_period ON usage_period_sums (CAST(tenant AS TEXT), CAST(period AS TEXT))",
  "CREATE INDEX IF NOT EXISTS idx_usage_period_sums_period ON usage_period_sums (CAST(period AS TEXT))",
];

const SUMS_VIEW_SQL = `
SELECT
  (tenant || ':' || period || ':' || api_key || ':' || user) AS id,
  CAST(tenant AS TEXT) AS tenant,
  CAST(period AS TEXT) AS period,
  CAST(api_key AS TEXT) AS api_key,
  CAST(user AS TEXT) AS user,
  CAST(billed_micros AS INTEGER) AS billed_micros,
  CAST(cost_micros AS INTEGER) AS cost_micros,
  CAST(requests AS INTEGER) AS requests,
  CAST(queries AS INTEGER) AS queries
FROM usage_period_sums`;

// The view as 1767226600_billing_usage.js made it, for the way down.
const GROUP_BY_VIEW_SQL = `
SELECT
  (tenant || ':' || period || ':' || api_key || ':' || user) AS id,
  tenant,
  period,
  api_key,
  user,
  CAST(SUM(billed_micros) AS INTEGER) AS billed_micros,
  CAST(SUM(cost_micros) AS INTEGER) AS cost_micros,
  CAST(COUNT(*) AS INTEGER) AS requests,
  CAST(SUM(${QUERY_COUNTED}) AS INTEGER) AS queries
FROM usage_logs
GROUP BY tenant, period, api_key, user`;

migrate(
  (app) => {
    const run = (sql) => app.db().newQuery(sql).execute();
    run(CREATE_TABLE);
    run("DELETE FROM usage_period_sums");
    run(BACKFILL);
    for (const index of INDEXES) run(index);
    const view = app.findCollectionByNameOrId("usage_period_totals");
    view.viewQuery = SUMS_VIEW_SQL;
    app.save(view);
  },
  (app) => {
    const view = app.findCollectionByNameOrId("usage_period_totals");
    view.viewQuery = GROUP_BY_VIEW_SQL;
    app.save(view);
    app.db().newQuery("DROP TABLE IF EXISTS usage_period_sums").execute();
  },
);
