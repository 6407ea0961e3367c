import { ModelCatalogEntry, Plan } from "@cloudfreedom/shared";
import type { CreateOf, ModelRow, PlanRow } from "./schemas.ts";

// Contracts use `null` for "unlimited"/"none"; rows store 0 and "" (PocketBase's empty values).
const toCount = (value: number | null): number => value ?? 0;
const fromCount = (value: number): number | null => (value === 0 ? null : value);

export function planToRow(plan: Plan): CreateOf<"plans"> {
  return {
    ...plan,
    monthly_budget_micros: toCount(plan.monthly_budget_micros),
    query_limit: toCount(plan.query_limit),
    max_users: toCount(plan.max_users),
    rpm: toCount(plan.rpm),
    tpm: toCount(plan.tpm),
    stripe_price_id: plan.stripe_price_id ?? "",
    stripe_overage_price_id: plan.stripe_overage_price_id ?? "",
    grace_days: plan.grace_days ?? 0,
    downgrade_to: plan.downgrade_to ?? "",
  };
}

export function planFromRow(row: PlanRow): Plan {
  return Plan.parse({
    ...row,
    monthly_budget_micros: fromCount(row.monthly_budget_micros),
    query_limit: fromCount(row.query_limit),
    max_users: fromCount(row.max_users),
    rpm: fromCount(row.rpm),
    tpm: fromCount(row.tpm),
    stripe_price_id: row.stripe_price_id || null,
    stripe_overage_price_id: row.stripe_overage_price_id || null,
    features: row.features ?? [],
    grace_days: row.grace_days || undefined,
    downgrade_to: row.downgrade_to || undefined,
  });
}

export function modelToRow(model: ModelCatalogEntry): CreateOf<"models"> {
  return {
    model_id: model.model_id,
    display_name: model.display_name,
    deployments: model.deployments,
    input_price_micros: model.prices.input_per_million,
    cached_input_price_micros: model.prices.cached_input_per_million,
    cache_write_price_micros: model.prices.cache_write_per_million ?? 0,
    output_price_micros: model.prices.output_per_million,
    required_tier: model.required_tier,
    tier_restriction_mode: model.tier_restriction_mode,
    allowed_tiers: model.allowed_tiers,
    is_available: model.is_available,
    context_window: model.context_window,
    max_output_tokens: model.max_output_tokens,
    capabilities: model.capabilities,
  };
}

/** Rows written before tier rules existed have empty tier fields: they read as free / minimum. */
export function modelFromRow(row: ModelRow): ModelCatalogEntry {
  return ModelCatalogEntry.parse({
    model_id: row.model_id,
    display_name: row.display_name || row.model_id,
    deployments: (row.deployments ?? []).map((d) => ({
      ...d,
      id: d.id ?? `${d.provider}/${d.upstream_model}`,
    })),
    prices: {
      input_per_million: row.input_price_micros,
      cached_input_per_million: row.cached_input_price_micros,
      // PocketBase stores "none" as 0: the default premium over the input price applies.
      cache_write_per_million: row.cache_write_price_micros || undefined,
      output_per_million: row.output_price_micros,
    },
    required_tier: row.required_tier || undefined,
    tier_restriction_mode: row.tier_restriction_mode || undefined,
    allowed_tiers: row.allowed_tiers ?? [],
    is_available: row.is_available,
    context_window: row.context_window,
    max_output_tokens: row.max_output_tokens,
    capabilities: row.capabilities ?? undefined,
  });
}
