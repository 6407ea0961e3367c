import { type KeyRecord, type Micros, type ModelPrices, priceUsage } from "@cloudfreedom/shared";

/** What one request may cost at most, and the tokens it may use: the amounts admission reserves. */
export interface MaxCost {
  /** Billed micro-units (provider cost + markup) of the estimated prompt and the full output allowance. */
  micros: Micros;
  /** Prompt estimate + output allowance: what the request holds of the TPM windows until it settles. */
  tokens: number;
}

/**
 * The output a request may produce: what it asked for (`max_completion_tokens` / `max_tokens`), never more
 * than the model's cap, times the number of choices. Without a request limit the model's cap applies.
 */
export function outputAllowance(requested: number | null | undefined, modelCap: number, choices = 1): number {
  const cap = Math.max(0, Math.floor(modelCap));
  const asked = requested && requested > 0 ? Math.min(Math.floor(requested), cap) : cap;
  return asked * Math.max(1, Math.floor(choices));
}

/**
 * Maximum billed cost of a request, priced exactly as settlement prices the actual usage (`priceUsage`, per
 * part rounded up, markup rounded up), so a request that uses what it announced reserves what it settles.
 * A request with prompt-cache breakpoints (`cacheWrite`) may be billed its whole prompt as cache writes, at
 * the 5-minute write price or, when a breakpoint asks for an hour, at up to the 1-hour one: its prompt is
 * held at the highest of those rates and the plain input price.
 */
export function maxCost(input: {
  promptTokens: number;
  outputTokens: number;
  prices: ModelPrices;
  markupPct: number;
  cacheWrite?: "5m" | "1h" | null;
}): MaxCost {
  const promptTokens = Math.max(0, Math.ceil(input.promptTokens));
  const outputTokens = Math.max(0, Math.ceil(input.outputTokens));
  const price = (written: number, written1h: number) =>
    priceUsage(
      {
        input: promptTokens,
        cached_input: 0,
        cache_write: written,
        cache_write_1h: written1h,
        output: outputTokens,
        reasoning: 0,
      },
      input.prices,
      input.markupPct,
    ).billed;
  let micros = price(0, 0);
  if (input.cacheWrite) micros = Math.max(micros, price(promptTokens, 0));
  if (input.cacheWrite === "1h") micros = Math.max(micros, price(promptTokens, promptTokens));
  return { micros, tokens: promptTokens + outputTokens };
}

/** The limits one request is admitted against. `null` = unlimited. */
export interface AdmissionLimits {
  tenantBudget: Micros | null;
  userBudget: Micros | null;
  keyBudget: Micros | null;
  queryLimit: number | null;
  tenantRpm: number | null;
  tenantTpm: number | null;
  keyRpm: number | null;
  keyTpm: number | null;
}

/** Limits that limit nothing: no budget, query limit or rate applies. */
export const NO_LIMITS: Readonly<AdmissionLimits> = {
  tenantBudget: null,
  userBudget: null,
  keyBudget: null,
  queryLimit: null,
  tenantRpm: null,
  tenantTpm: null,
  keyRpm: null,
  keyTpm: null,
};

/** A KeyRecord's limits: the tenant's plan (`tenant_limits`), the key's own, and the user's budget if set. */
export function limitsOf(key: KeyRecord): AdmissionLimits {
  return {
    tenantBudget: key.tenant_limits.budget_micros,
    userBudget: key.user_id ? (key.user_budget_micros ?? null) : null,
    keyBudget: key.budget_micros,
    queryLimit: key.tenant_limits.query_limit,
    tenantRpm: key.tenant_limits.rpm,
    tenantTpm: key.tenant_limits.tpm,
    keyRpm: key.rpm,
    keyTpm: key.tpm,
  };
}
