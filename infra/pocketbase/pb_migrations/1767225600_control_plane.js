// Control plane: plans, tenants, users (auth), memberships, api_keys, audit_logs.
//
// Conventions for every migration in this folder (each file is self-contained on purpose: a migration is a
// frozen snapshot and must not change when a shared helper changes):
// - API rules are all null: only superusers reach PocketBase; services enforce tenant isolation.
// - Record ids carry a type prefix (tnt_…, key_…) so a log line says what an id is.
// - Money is an integer in micro-units (1 EUR = 1,000,000); limits use 0 for "no limit".
// - Indexes of tenant-owned collections start with `tenant`, except the few that resolve the tenant
//   from a global secret or identity (key hash, login user), named in the comment beside them.

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
const json = (name, maxSize) => ({ name, type: "json", maxSize: maxSize || 0 });
const relation = (name, collection, required) => ({
  name,
  type: "relation",
  collectionId: collection.id,
  maxSelect: 1,
  required: !!required,
  cascadeDelete: false,
});

// users before this migration (PocketBase's default auth collection), restored by down().
const USERS_DEFAULT_RULES = {
  listRule: "id = @request.auth.id",
  viewRule: "id = @request.auth.id",
  createRule: "",
  updateRule: "id = @request.auth.id",
  deleteRule: "id = @request.auth.id",
  authRule: "",
  manageRule: null,
};

migrate(
  (app) => {
    const plans = baseCollection(
      "plans",
      "pln",
      [
        text("slug", { required: true, max: 64, pattern: "^[a-z0-9][a-z0-9-]*$" }),
        text("name", { required: true, max: 128 }),
        text("description", { max: 2000 }),
        select("tier", TIERS, { required: true }),
        micros("price_micros", "price per interval"),
        text("currency", { required: true, pattern: "^[A-Z]{3}$" }),
        select("interval", ["month", "year", "custom"], { required: true }),
        micros("monthly_budget_micros", "AI budget included per period, 0 = no cap"),
        int("query_limit", "requests per period, 0 = unlimited"),
        int("max_users", "members per tenant, 0 = unlimited"),
        // Whole percent (20 = +20% on provider cost), kept integer so billed = cost * (100 + pct) / 100 stays exact.
        { ...int("markup_pct", "markup on provider cost in whole percent, 20 = 20%"), max: 1000 },
        int("rpm", "requests per minute per tenant, 0 = unlimited"),
        int("tpm", "tokens per minute per tenant, 0 = unlimited"),
        text("stripe_price_id", { max: 255 }),
        json("features"),
        bool("is_active"),
      ],
      [
        "CREATE UNIQUE INDEX `idx_plans_slug` ON `plans` (`slug`)",
        "CREATE UNIQUE INDEX `idx_plans_stripe_price_id` ON `plans` (`stripe_price_id`) WHERE `stripe_price_id` != ''",
      ],
    );
    app.save(plans);

    const tenants = baseCollection(
      "tenants",
      "tnt",
      [
        // The slug is the tenant's subdomain: one DNS label.
        text("slug", { required: true, max: 63, pattern: "^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$" }),
        text("name", { required: true, max: 255 }),
        relation("plan", plans, false),
        select("tier", TIERS, { required: true }),
        text("currency", { required: true, pattern: "^[A-Z]{3}$" }),
        select("status", ["active", "suspended", "closed"], { required: true }),
        text("stripe_customer_id", { max: 255 }),
        text("stripe_subscription_id", { max: 255 }),
        json("settings"),
      ],
      [
        "CREATE UNIQUE INDEX `idx_tenants_slug` ON `tenants` (`slug`)",
        "CREATE UNIQUE INDEX `idx_tenants_stripe_customer_id` ON `tenants` (`stripe_customer_id`) WHERE `stripe_customer_id` != ''",
      ],
    );
    app.save(tenants);

    const users = app.findCollectionByNameOrId("users");
    Object.assign(users, CLOSED_RULES, { authRule: null, manageRule: null });
    users.fields.add(new Field(idField("usr")));
    if (!users.fields.getByName("name")) users.fields.add(new Field(text("name", { max: 255 })));
    users.fields.add(new Field(relation("default_tenant", tenants, false)));
    app.save(users);

    const memberships = baseCollection(
      "memberships",
      "mem",
      [
        relation("tenant", tenants, true),
        relation("user", users, true),
        select("role", ["owner", "admin", "member"], { required: true }),
        relation("invited_by", users, false),
      ],
      [
        "CREATE UNIQUE INDEX `idx_memberships_tenant_user` ON `memberships` (`tenant`, `user`)",
        // Tenant-resolving exception: at login only the user is known.
        "CREATE INDEX `idx_memberships_user` ON `memberships` (`user`)",
      ],
    );
    app.save(memberships);

    const apiKeys = baseCollection(
      "api_keys",
      "key",
      [
        text("hash", { required: true, pattern: "^[a-f0-9]{64}$", help: "SHA-256 of the secret, hex" }),
        text("prefix", { required: true, max: 32, help: "first characters of the secret, for display" }),
        relation("tenant", tenants, true),
        relation("user", users, false),
        text("name", { max: 255 }),
        json("scopes"),
        json("allowed_models"),
        int("rpm", "requests per minute, 0 = plan default"),
        int("tpm", "tokens per minute, 0 = plan default"),
        micros("budget_micros", "monthly budget of this key, 0 = no key budget"),
        date("expires_at"),
        date("revoked_at"),
        date("grace_until"),
        date("last_used_at"),
      ],
      [
        // Tenant-resolving exception: a request carries only the key, and a hash must map to one key platform-wide.
        "CREATE UNIQUE INDEX `idx_api_keys_hash` ON `api_keys` (`hash`)",
        "CREATE INDEX `idx_api_keys_tenant_user` ON `api_keys` (`tenant`, `user`)",
      ],
    );
    app.save(apiKeys);
    // Self relation: needs the collection id, which exists only after the first save.
    apiKeys.fields.add(new Field(relation("rotated_from", apiKeys, false)));
    app.save(apiKeys);

    const auditLogs = baseCollection(
      "audit_logs",
      "aud",
      [
        // Optional: a failed login for an unknown account or an operator action belongs to no tenant.
        relation("tenant", tenants, false),
        select("actor_type", ["user", "api_key", "operator", "system", "anonymous"], { required: true }),
        text("actor_id", { max: 64 }),
        text("actor_label", { max: 255, help: "e.g. the email tried on a failed login" }),
        text("action", { required: true, max: 128, help: "dotted verb, e.g. key.revoke" }),
        text("target_type", { max: 64 }),
        text("target_id", { max: 64 }),
        select("outcome", ["success", "failure"], { required: true }),
        text("ip", { max: 64 }),
        text("user_agent", { max: 1024 }),
        json("metadata"),
      ],
      [
        "CREATE INDEX `idx_audit_logs_tenant_created` ON `audit_logs` (`tenant`, `created`)",
        "CREATE INDEX `idx_audit_logs_tenant_action_created` ON `audit_logs` (`tenant`, `action`, `created`)",
      ],
    );
    app.save(auditLogs);
  },
  (app) => {
    for (const name of ["audit_logs", "api_keys", "memberships"]) {
      app.delete(app.findCollectionByNameOrId(name));
    }

    const users = app.findCollectionByNameOrId("users");
    Object.assign(users, USERS_DEFAULT_RULES);
    users.fields.removeByName("default_tenant");
    users.fields.add(
      new Field({
        name: "id",
        type: "text",
        system: true,
        primaryKey: true,
        required: true,
        min: 15,
        max: 15,
        pattern: "^[a-z0-9]+$",
        autogeneratePattern: "[a-z0-9]{15}",
      }),
    );
    app.save(users);

    app.delete(app.findCollectionByNameOrId("tenants"));
    app.delete(app.findCollectionByNameOrId("plans"));
  },
);
