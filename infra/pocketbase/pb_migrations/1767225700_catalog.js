// Catalog: providers (upstream accounts, operator-managed) and models (public ids, deployments, prices, tier rules).
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
const pricePerMillion = (name, what) =>
  int(name, `${what} price per 1,000,000 tokens (integer micro-units, 1 EUR = 1,000,000)`);
const select = (name, values, opts) => ({ name, type: "select", values, maxSelect: 1, ...opts });
const bool = (name) => ({ name, type: "bool" });
const json = (name) => ({ name, type: "json" });

migrate(
  (app) => {
    app.save(
      baseCollection(
        "providers",
        "prv",
        [
          text("name", { required: true, max: 64, pattern: "^[a-z0-9][a-z0-9_-]*$" }),
          select("kind", ["openai", "anthropic", "gemini", "ollama", "azure", "openrouter"], {
            required: true,
          }),
          text("base_url", { max: 2048 }),
          // AES-256-GCM under MASTER_KEY, encoded by the service; never plaintext.
          text("credentials_encrypted", { max: 20000 }),
          bool("enabled"),
          json("options"),
        ],
        ["CREATE UNIQUE INDEX `idx_providers_name` ON `providers` (`name`)"],
      ),
    );

    app.save(
      baseCollection(
        "models",
        "mdl",
        [
          text("model_id", { required: true, max: 255, help: 'public id, e.g. "gpt-4o"' }),
          text("display_name", { max: 255 }),
          text("description", { max: 2000 }),
          // [{ provider, upstream_model, weight }]; provider is a providers.name.
          json("deployments"),
          pricePerMillion("input_price_micros", "input"),
          pricePerMillion("cached_input_price_micros", "cached input"),
          pricePerMillion("output_price_micros", "output"),
          // Optional so rows written before tier rules existed keep working: empty means free / minimum.
          select("required_tier", TIERS),
          select("tier_restriction_mode", ["minimum", "exact", "whitelist"]),
          json("allowed_tiers"),
          bool("is_available"),
          int("context_window", "tokens"),
          int("max_output_tokens", "tokens"),
          json("capabilities"),
        ],
        ["CREATE UNIQUE INDEX `idx_models_model_id` ON `models` (`model_id`)"],
      ),
    );
  },
  (app) => {
    app.delete(app.findCollectionByNameOrId("models"));
    app.delete(app.findCollectionByNameOrId("providers"));
  },
);
