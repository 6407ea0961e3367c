// Billing: aggregate views over usage_logs, and the fields the billing worker and Stripe need.
// Conventions: see 1767225600_control_plane.js.
//
// - usage_period_totals: spend and queries per (tenant, period, key, user). The billing worker derives the
//   `budgets` spend snapshots from it, so a snapshot is a pure function of the stored logs (redelivered or
//   duplicated events cannot change it). Filtered by tenant and period it reads idx_usage_logs_tenant_period.
// - usage_daily_totals: requests, tokens and money per (tenant, period, UTC day, model, key), for
//   `GET /v1/usage/summary`.
// Both are superuser-only like every collection; `id` is a deterministic composite so filters push down.
// - budgets: Stripe meter state of the tenant-scope row of a period (what was reported, and the batch in flight).
// - plans: what a failed payment leads to (grace days, the plan to fall back to).
// - subscriptions: creation time of the newest Stripe event applied, so an older event never overwrites it.

const CLOSED_RULES = { listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null };

const int = (name, help) => ({ name, type: "number", onlyInt: true, min: 0, help: help || "" });
const text = (name, opts) => ({ name, type: "text", ...opts });

const QUERY_COUNTED = "CASE WHEN status = 'error' AND billed_micros = 0 THEN 0 ELSE 1 END";

const PERIOD_TOTALS_SQL = `
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

const DAILY_TOTALS_SQL = `
SELECT
  (tenant || ':' || period || ':' || substr(occurred_at, 1, 10) || ':' || model || ':' || api_key) AS id,
  tenant,
  period,
  CAST(substr(occurred_at, 1, 10) AS TEXT) AS day,
  model,
  api_key,
  CAST(COUNT(*) AS INTEGER) AS requests,
  CAST(SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END) AS INTEGER) AS failed_requests,
  CAST(SUM(input_tokens) AS INTEGER) AS input_tokens,
  CAST(SUM(cached_input_tokens) AS INTEGER) AS cached_input_tokens,
  CAST(SUM(output_tokens) AS INTEGER) AS output_tokens,
  CAST(SUM(cost_micros) AS INTEGER) AS cost_micros,
  CAST(SUM(billed_micros) AS INTEGER) AS billed_micros
FROM usage_logs
GROUP BY tenant, period, substr(occurred_at, 1, 10), model, api_key`;

const VIEWS = [
  { name: "usage_period_totals", viewQuery: PERIOD_TOTALS_SQL },
  { name: "usage_daily_totals", viewQuery: DAILY_TOTALS_SQL },
];

migrate(
  (app) => {
    for (const view of VIEWS) {
      app.save(new Collection({ type: "view", ...CLOSED_RULES, ...view }));
    }

    const budgets = app.findCollectionByNameOrId("budgets");
    budgets.fields.add(new Field(int("metered_units", "overage units reported to Stripe for this period")));
    budgets.fields.add(new Field(int("meter_batches", "meter event batches sent for this period")));
    budgets.fields.add(
      new Field(int("meter_pending_units", "units of the batch being sent (0 = none), resent after a crash")),
    );
    app.save(budgets);

    const plans = app.findCollectionByNameOrId("plans");
    plans.fields.add(
      new Field(int("grace_days", "days a past-due subscription keeps its tier, 0 = default")),
    );
    plans.fields.add(
      new Field(text("downgrade_to", { max: 64, help: "plan slug after the grace period, empty = free" })),
    );
    app.save(plans);

    const subscriptions = app.findCollectionByNameOrId("subscriptions");
    subscriptions.fields.add(
      new Field(int("last_event_at", "created (epoch s) of the newest Stripe event applied")),
    );
    app.save(subscriptions);
  },
  (app) => {
    const subscriptions = app.findCollectionByNameOrId("subscriptions");
    subscriptions.fields.removeByName("last_event_at");
    app.save(subscriptions);

    const plans = app.findCollectionByNameOrId("plans");
    plans.fields.removeByName("grace_days");
    plans.fields.removeByName("downgrade_to");
    app.save(plans);

    const budgets = app.findCollectionByNameOrId("budgets");
    for (const name of ["metered_units", "meter_batches", "meter_pending_units"])
      budgets.fields.removeByName(name);
    app.save(budgets);

    for (const view of [...VIEWS].reverse()) {
      app.delete(app.findCollectionByNameOrId(view.name));
    }
  },
);
