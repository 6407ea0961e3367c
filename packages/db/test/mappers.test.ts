import { describe, expect, it } from "vitest";
import { modelFromRow, modelToRow, planFromRow, planToRow } from "../src/mappers.ts";
import type { ModelRow, PlanRow } from "../src/schemas.ts";

const base = { id: "pln_1", created: "", updated: "" };

describe("plan rows", () => {
  it("store unlimited as 0 and read it back as null", () => {
    const plan = {
      slug: "enterprise",
      name: "Enterprise",
      tier: "enterprise" as const,
      price_micros: 0,
      currency: "EUR",
      interval: "custom" as const,
      monthly_budget_micros: null,
      query_limit: null,
      max_users: null,
      markup_pct: 20,
      rpm: null,
      tpm: 1000,
      stripe_price_id: null,
      stripe_overage_price_id: null,
      features: ["x"],
      is_active: true,
    };
    const row = planToRow(plan);
    expect(row).toMatchObject({
      monthly_budget_micros: 0,
      query_limit: 0,
      max_users: 0,
      rpm: 0,
      tpm: 1000,
      stripe_price_id: "",
      stripe_overage_price_id: "",
    });
    expect(planFromRow({ ...base, description: "", ...row } as PlanRow)).toEqual(plan);
  });
});

describe("model rows", () => {
  const row: ModelRow = {
    ...base,
    id: "mdl_1",
    model_id: "legacy",
    display_name: "",
    description: "",
    deployments: [{ provider: "openai", upstream_model: "gpt-4o-mini" }],
    input_price_micros: 150_000,
    cached_input_price_micros: 0,
    cache_write_price_micros: 0,
    output_price_micros: 600_000,
    required_tier: "",
    tier_restriction_mode: "",
    allowed_tiers: null,
    is_available: true,
    context_window: 128_000,
    max_output_tokens: 4096,
    capabilities: null,
  };

  it("reads a row without tier fields as open to every tier (free, minimum)", () => {
    const model = modelFromRow(row);
    expect(model).toMatchObject({
      model_id: "legacy",
      display_name: "legacy",
      required_tier: "free",
      tier_restriction_mode: "minimum",
      allowed_tiers: [],
      capabilities: ["chat"],
      deployments: [
        { id: "openai/gpt-4o-mini", provider: "openai", upstream_model: "gpt-4o-mini", weight: 1 },
      ],
      prices: { input_per_million: 150_000, cached_input_per_million: 0, output_per_million: 600_000 },
    });
  });

  it("round-trips a catalog entry", () => {
    const model = modelFromRow({
      ...row,
      required_tier: "pro",
      tier_restriction_mode: "exact",
      allowed_tiers: ["pro"],
    });
    expect(modelFromRow({ ...row, ...modelToRow(model) } as ModelRow)).toEqual(model);
  });

  it("maps the cache-write price, and reads none (0) as the default premium over the input price", () => {
    expect(modelFromRow(row).prices.cache_write_per_million).toBeUndefined();
    const model = modelFromRow({ ...row, cache_write_price_micros: 187_500 });
    expect(model.prices.cache_write_per_million).toBe(187_500);
    expect(modelToRow(model).cache_write_price_micros).toBe(187_500);
    expect(modelToRow(modelFromRow(row)).cache_write_price_micros).toBe(0);
  });
});
