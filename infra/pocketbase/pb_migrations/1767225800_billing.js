// Billing: subscriptions (mirror of Stripe), budgets (limits and period spend snapshots), stripe_events (idempotency).
// Conventions: see 1767225600_control_plane.js.

const TIERS = ["free", "starter", "pro", "team", "enterprise"];
const CLOSED_RULES = { listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null };

function idField(prefix) {
  return {
    name: "id",
    type: "text",
    system: true,
    primaryKey: true,
    required: true,
    min: 3,
    max: 64,
    pattern: "^[a-z0-9_]+$",
    autogeneratePattern: `${prefix}_[a-z0-9]{15}`,
  };
}

function baseCollection(name, idPrefix, fields, indexes) {
  return new Collection({
    type: "base",
    name,
    ...CLOSED_RULES,
    fields: [
      idField(idPrefix),
      ...fields,
      { name: "created", type: "autodate", onCreate: true, onUpdate: false },
      { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
    ],
    indexes,
  });
}

const text = (name, opts) => ({ name, type: "text", ...opts });
const int = (name, help) => ({ name, type: "number", onlyInt: true, min: 0, help: help || "" });
const micros = (name, help) => int(name, `${help} (integer micro-units, 1 EUR = 1,000,000)`);
const select = (name, values, opts) => ({ name, type: "select", values, maxSelect: 1, ...opts });
const date = (name) => ({ name, type: "date" });
const bool = (name) => ({ name, type: "bool" });
const relation = (name, collection, required) => ({
  name,
  type: "relation",
  collectionId: collection.id,
  maxSelect: 1,
  required: !!required,
  cascadeDelete: false,
});

// Stripe subscription statuses, kept verbatim.
const SUBSCRIPTION_STATUSES = [
  "incomplete",
  "incomplete_expired",
  "trialing",
  "active",
  "past_due",
  "canceled",
  "unpaid",
  "paused",
];

migrate(
  (app) => {
    const tenants = app.findCollectionByNameOrId("tenants");
    const plans = app.findCollectionByNameOrId("plans");

    app.save(
      baseCollection(
        "subscriptions",
        "sub",
        [
          relation("tenant", tenants, true),
          relation("plan", plans, false),
          text("stripe_subscription_id", { max: 255 }),
          text("stripe_customer_id", { max: 255 }),
          text("stripe_price_id", { max: 255 }),
          select("status", SUBSCRIPTION_STATUSES, { required: true }),
          select("tier", TIERS, { required: true }),
          date("current_period_start"),
          date("current_period_end"),
          bool("cancel_at_period_end"),
          date("canceled_at"),
          // After a failed payment the tenant keeps its tier until then, then downgrades as the plan says.
          date("grace_until"),
        ],
        [
          // Tenant-resolving exception: a Stripe webhook names only the subscription.
          "CREATE UNIQUE INDEX `idx_subscriptions_stripe_subscription_id` ON `subscriptions` (`stripe_subscription_id`) WHERE `stripe_subscription_id` != ''",
          "CREATE INDEX `idx_subscriptions_tenant_status` ON `subscriptions` (`tenant`, `status`)",
        ],
      ),
    );

    app.save(
      baseCollection(
        "budgets",
        "bdg",
        [
          relation("tenant", tenants, true),
          select("scope_type", ["tenant", "user", "key"], { required: true }),
          text("scope_id", { required: true, max: 64, help: "tenant, user or api_keys id" }),
          text("period", {
            required: true,
            max: 32,
            pattern: "^[0-9a-z-]+$",
            help: 'budget period id, e.g. "2026-11"',
          }),
          micros("limit_micros", "spend limit for the period, 0 = no cap"),
          micros("spent_micros", "settled spend snapshot"),
          int("query_count", "requests counted in the period (snapshot)"),
          date("closed_at"),
        ],
        [
          "CREATE UNIQUE INDEX `idx_budgets_tenant_scope_period` ON `budgets` (`tenant`, `scope_type`, `scope_id`, `period`)",
          "CREATE INDEX `idx_budgets_tenant_period` ON `budgets` (`tenant`, `period`)",
        ],
      ),
    );

    app.save(
      baseCollection(
        "stripe_events",
        "sev",
        [
          text("event_id", { required: true, max: 255 }),
          text("type", { required: true, max: 255 }),
          date("processed_at"),
        ],
        ["CREATE UNIQUE INDEX `idx_stripe_events_event_id` ON `stripe_events` (`event_id`)"],
      ),
    );
  },
  (app) => {
    for (const name of ["stripe_events", "budgets", "subscriptions"]) {
      app.delete(app.findCollectionByNameOrId(name));
    }
  },
);
