// usage_logs: one row per routed request (or per usage reported through the billing API).
// Conventions: see 1767225600_control_plane.js.

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
const json = (name) => ({ name, type: "json" });
const relation = (name, collection, required) => ({
  name,
  type: "relation",
  collectionId: collection.id,
  maxSelect: 1,
  required: !!required,
  cascadeDelete: false,
});

migrate(
  (app) => {
    const tenants = app.findCollectionByNameOrId("tenants");
    const users = app.findCollectionByNameOrId("users");
    const apiKeys = app.findCollectionByNameOrId("api_keys");

    app.save(
      baseCollection(
        "usage_logs",
        "use",
        [
          relation("tenant", tenants, true),
          // Idempotency key of the UsageEvent: a redelivered event hits the unique index and changes nothing.
          text("event_id", { required: true, max: 128 }),
          text("request_id", { max: 128 }),
          text("reservation_id", { max: 128 }),
          select("source", ["router", "api"], { required: true }),
          relation("api_key", apiKeys, false),
          relation("user", users, false),
          text("model", { required: true, max: 255, help: "public model id" }),
          text("provider", { max: 64, help: "providers.name" }),
          text("deployment", { max: 255 }),
          text("upstream_model", { max: 255 }),
          int("input_tokens"),
          int("cached_input_tokens"),
          int("output_tokens"),
          int("reasoning_tokens"),
          micros("cost_micros", "provider cost"),
          micros("billed_micros", "cost including the plan markup"),
          int("latency_ms"),
          int("attempts"),
          select("status", ["success", "error", "cancelled"], { required: true }),
          int("http_status"),
          text("error_code", { max: 64 }),
          bool("estimated"),
          bool("stream"),
          text("period", {
            required: true,
            max: 32,
            pattern: "^[0-9a-z-]+$",
            help: 'budget period id, e.g. "2026-11"',
          }),
          { ...date("occurred_at"), required: true },
          json("metadata"),
        ],
        [
          "CREATE UNIQUE INDEX `idx_usage_logs_tenant_event_id` ON `usage_logs` (`tenant`, `event_id`)",
          "CREATE INDEX `idx_usage_logs_tenant_occurred_at` ON `usage_logs` (`tenant`, `occurred_at`)",
          "CREATE INDEX `idx_usage_logs_tenant_period` ON `usage_logs` (`tenant`, `period`)",
          "CREATE INDEX `idx_usage_logs_tenant_api_key_occurred_at` ON `usage_logs` (`tenant`, `api_key`, `occurred_at`)",
          "CREATE INDEX `idx_usage_logs_tenant_user_occurred_at` ON `usage_logs` (`tenant`, `user`, `occurred_at`)",
          "CREATE INDEX `idx_usage_logs_tenant_model_occurred_at` ON `usage_logs` (`tenant`, `model`, `occurred_at`)",
          "CREATE INDEX `idx_usage_logs_tenant_request_id` ON `usage_logs` (`tenant`, `request_id`)",
        ],
      ),
    );
  },
  (app) => {
    app.delete(app.findCollectionByNameOrId("usage_logs"));
  },
);
