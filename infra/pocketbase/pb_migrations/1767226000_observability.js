// Observability: workspaces, trace_sessions, traces, spans, shared_items (share links), analytics_rollups.
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
const json = (name, maxSize) => ({ name, type: "json", maxSize: maxSize || 0 });
const relation = (name, collection, required) => ({
  name,
  type: "relation",
  collectionId: collection.id,
  maxSelect: 1,
  required: !!required,
  cascadeDelete: false,
});

const SPAN_STATUSES = ["unset", "ok", "error"];
const FOUR_MB = 4 << 20;

migrate(
  (app) => {
    const tenants = app.findCollectionByNameOrId("tenants");
    const users = app.findCollectionByNameOrId("users");

    const workspaces = baseCollection(
      "workspaces",
      "wsp",
      [
        relation("tenant", tenants, true),
        text("name", { required: true, max: 255 }),
        text("slug", { required: true, max: 64, pattern: "^[a-z0-9][a-z0-9-]*$" }),
        text("description", { max: 2000 }),
        json("settings"),
      ],
      ["CREATE UNIQUE INDEX `idx_workspaces_tenant_slug` ON `workspaces` (`tenant`, `slug`)"],
    );
    app.save(workspaces);

    const sessions = baseCollection(
      "trace_sessions",
      "ses",
      [
        relation("tenant", tenants, true),
        relation("workspace", workspaces, false),
        text("session_id", { required: true, max: 255, help: "id given by the traced application" }),
        text("name", { max: 255 }),
        text("end_user", { max: 255, help: "the traced application's user id, not a platform user" }),
        date("started_at"),
        date("ended_at"),
        json("metadata"),
      ],
      [
        "CREATE UNIQUE INDEX `idx_trace_sessions_tenant_workspace_session_id` ON `trace_sessions` (`tenant`, `workspace`, `session_id`)",
        "CREATE INDEX `idx_trace_sessions_tenant_started_at` ON `trace_sessions` (`tenant`, `started_at`)",
      ],
    );
    app.save(sessions);

    app.save(
      baseCollection(
        "traces",
        "trc",
        [
          relation("tenant", tenants, true),
          relation("workspace", workspaces, false),
          relation("session", sessions, false),
          text("trace_id", { required: true, max: 64, help: "W3C/OpenTelemetry trace id" }),
          text("name", { max: 512 }),
          text("request_id", { max: 128 }),
          text("end_user", { max: 255 }),
          date("start_time"),
          date("end_time"),
          { name: "duration_ms", type: "number", min: 0 },
          select("status", SPAN_STATUSES),
          int("span_count"),
          int("input_tokens"),
          int("output_tokens"),
          micros("cost_micros", "cost of the LLM calls in the trace"),
          json("input", FOUR_MB),
          json("output", FOUR_MB),
          json("metadata"),
          json("tags"),
        ],
        [
          "CREATE UNIQUE INDEX `idx_traces_tenant_trace_id` ON `traces` (`tenant`, `trace_id`)",
          "CREATE INDEX `idx_traces_tenant_start_time` ON `traces` (`tenant`, `start_time`)",
          "CREATE INDEX `idx_traces_tenant_workspace_start_time` ON `traces` (`tenant`, `workspace`, `start_time`)",
          "CREATE INDEX `idx_traces_tenant_session` ON `traces` (`tenant`, `session`)",
        ],
      ),
    );

    // Spans reference their trace by trace_id (text), not by relation: spans arrive before, after or
    // without their trace row, and batches of spans must not depend on trace rows existing.
    app.save(
      baseCollection(
        "spans",
        "spn",
        [
          relation("tenant", tenants, true),
          text("trace_id", { required: true, max: 64 }),
          text("span_id", { required: true, max: 32 }),
          text("parent_span_id", { max: 32 }),
          text("name", { required: true, max: 512 }),
          select("kind", ["internal", "server", "client", "producer", "consumer"]),
          { ...date("start_time"), required: true },
          date("end_time"),
          { name: "duration_ms", type: "number", min: 0 },
          select("status", SPAN_STATUSES),
          text("status_message", { max: 2000 }),
          text("request_id", { max: 128 }),
          json("attributes", FOUR_MB),
          json("events", FOUR_MB),
          json("resource"),
        ],
        [
          "CREATE UNIQUE INDEX `idx_spans_tenant_trace_id_span_id` ON `spans` (`tenant`, `trace_id`, `span_id`)",
          "CREATE INDEX `idx_spans_tenant_start_time` ON `spans` (`tenant`, `start_time`)",
          "CREATE INDEX `idx_spans_tenant_request_id` ON `spans` (`tenant`, `request_id`)",
        ],
      ),
    );

    app.save(
      baseCollection(
        "shared_items",
        "shr",
        [
          relation("tenant", tenants, true),
          select("kind", ["trace", "session", "dashboard"], { required: true }),
          text("item_id", { required: true, max: 255 }),
          text("token_hash", {
            required: true,
            pattern: "^[a-f0-9]{64}$",
            help: "SHA-256 of the share token, hex",
          }),
          relation("created_by", users, false),
          date("expires_at"),
          date("revoked_at"),
        ],
        [
          // Tenant-resolving exception: a share link carries only its token.
          "CREATE UNIQUE INDEX `idx_shared_items_token_hash` ON `shared_items` (`token_hash`)",
          "CREATE INDEX `idx_shared_items_tenant_kind_item_id` ON `shared_items` (`tenant`, `kind`, `item_id`)",
        ],
      ),
    );

    // One row per (bucket, dimensions); an empty dimension means "all". Workers upsert on the unique index.
    app.save(
      baseCollection(
        "analytics_rollups",
        "rlp",
        [
          relation("tenant", tenants, true),
          select("granularity", ["hour", "day", "month"], { required: true }),
          { ...date("bucket_start"), required: true },
          text("model", { max: 255 }),
          text("provider", { max: 64 }),
          text("api_key", { max: 64, help: "api_keys id" }),
          text("user", { max: 64, help: "users id" }),
          text("workspace", { max: 64, help: "workspaces id" }),
          int("requests"),
          int("errors"),
          int("input_tokens"),
          int("cached_input_tokens"),
          int("output_tokens"),
          int("reasoning_tokens"),
          micros("cost_micros", "provider cost"),
          micros("billed_micros", "billed cost"),
          int("latency_ms_sum"),
          int("latency_ms_max"),
        ],
        [
          "CREATE UNIQUE INDEX `idx_analytics_rollups_tenant_bucket_dims` ON `analytics_rollups` (`tenant`, `granularity`, `bucket_start`, `model`, `provider`, `api_key`, `user`, `workspace`)",
        ],
      ),
    );
  },
  (app) => {
    for (const name of [
      "analytics_rollups",
      "shared_items",
      "spans",
      "traces",
      "trace_sessions",
      "workspaces",
    ]) {
      app.delete(app.findCollectionByNameOrId(name));
    }
  },
);
