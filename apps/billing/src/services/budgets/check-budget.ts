import { type AdmissionLimits, limitsOf, maxCost, outputAllowance } from "@cloudfreedom/admission";
import { loadStandingLimits } from "@cloudfreedom/keyring";
import { AppError, checkTierAccess, newId, type Tier, tierDenialError } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import type { Principal } from "../auth/principal.ts";
import { loadTenant, planById } from "../tenants/tenant-plan.ts";
import { rememberHold } from "./reservation-holds.ts";

export interface BudgetCheckInput {
  model: string;
  /** Estimated prompt tokens. */
  input_tokens: number;
  /** The request's max_tokens; absent = the model's output cap (as the router reserves). */
  max_output_tokens?: number | undefined;
  /** Prompt-cache breakpoints of the request: "1h" when one asks for an hour (priced as the router holds it). */
  cache_write?: "5m" | "1h" | undefined;
  /** Hold the maximum cost until `POST /v1/usage` settles it (or the reservation expires). */
  reserve: boolean;
}

export interface BudgetCheckResult {
  allowed: true;
  model: string;
  period: string;
  estimated_cost_micros: number;
  estimated_tokens: number;
  reservation_id: string | null;
  reservation_expires_at: string | null;
  budget_remaining_micros: number | null;
}

interface Caller {
  tenantId: string;
  keyId: string;
  userId: string | null;
  tier: Tier;
  markupPct: number;
  models: string[] | null;
  limits: AdmissionLimits;
}

/** A key admits with its KeyRecord, exactly as the router; a member (JWT) with the tenant's plan and budgets. */
async function callerOf(
  deps: Pick<BillingDeps, "db">,
  principal: Exclude<Principal, { kind: "operator" }>,
): Promise<Caller> {
  if (principal.kind === "key") {
    const { record } = principal;
    return {
      tenantId: record.tenant_id,
      keyId: record.key_id,
      userId: record.user_id,
      tier: record.tier,
      markupPct: record.tenant_limits.markup_pct,
      models: record.models,
      limits: limitsOf(record),
    };
  }
  const tenant = await loadTenant(deps.db, principal.tenantId);
  const [plan, standing] = await Promise.all([
    planById(deps.db, tenant.plan),
    loadStandingLimits(deps.db, tenant.id),
  ]);
  const orNull = (value: number | undefined) => (value ? value : null);
  return {
    tenantId: tenant.id,
    keyId: "",
    userId: principal.userId,
    // The tier as last published: the keyring writes the row's copy after the tenant's KeyRecords, so a check
    // answers as the router admits, without a subscription look-up per check.
    tier: tenant.tier,
    markupPct: plan?.markup_pct ?? 0,
    models: null,
    limits: {
      tenantBudget: standing.tenant ?? orNull(plan?.monthly_budget_micros),
      userBudget: standing.users.get(principal.userId) ?? null,
      keyBudget: null,
      queryLimit: orNull(plan?.query_limit),
      tenantRpm: orNull(plan?.rpm),
      tenantTpm: orNull(plan?.tpm),
      keyRpm: null,
      keyTpm: null,
    },
  };
}

/**
 * `POST /v1/budget/check`: would this request be admitted? The router's rules through packages/admission:
 * the model's tier rule and the key's allowlist, then budgets (tenant, user, key), the monthly query limit and
 * rate limits in one atomic script. Without `reserve` nothing is written; with it the maximum cost is held.
 * A denial throws the router's error (402 budget_exceeded, 429 query_limit_exceeded / rate_limited, 403).
 */
export async function checkBudget(
  deps: Pick<BillingDeps, "db" | "redis" | "admission" | "catalog" | "periods" | "env">,
  principal: Exclude<Principal, { kind: "operator" }>,
  input: BudgetCheckInput,
): Promise<BudgetCheckResult> {
  const caller = await callerOf(deps, principal);
  const model = await deps.catalog.require(input.model);
  if (caller.models && !caller.models.includes(model.model_id)) {
    throw new AppError(
      "forbidden",
      `This API key may not use "${model.model_id}" (the key has a model allowlist)`,
      {
        model_id: model.model_id,
      },
    );
  }
  const tier = checkTierAccess(caller.tier, model);
  if (!tier.allowed)
    throw tierDenialError(
      model.model_id,
      caller.tier,
      tier,
      deps.env.BILLING_RETURN_URL ?? `https://admin.${deps.env.PLATFORM_DOMAIN}/billing`,
    );
  const cost = maxCost({
    promptTokens: input.input_tokens,
    outputTokens: outputAllowance(input.max_output_tokens, model.max_output_tokens),
    prices: model.prices,
    markupPct: caller.markupPct,
    cacheWrite: input.cache_write ?? null,
  });
  // The tenant's own period (a subscription's anchor), so a denial names its real end, as the router's does.
  const { period, end: periodEnd } = await deps.periods.current(caller.tenantId);
  const reservationId = newId("reservation");
  const ttlMs = deps.env.RESERVATION_TTL_MS;
  const reservation = await deps.admission.reserve({
    reservationId,
    tenantId: caller.tenantId,
    keyId: caller.keyId,
    userId: caller.userId,
    period,
    periodEnd,
    cost,
    limits: caller.limits,
    ttlMs,
    dryRun: !input.reserve,
  });
  const held = input.reserve && reservation.held;
  if (held && reservation.hold)
    await rememberHold(deps.redis, caller.tenantId, reservationId, reservation.hold, ttlMs);
  return {
    allowed: true,
    model: model.model_id,
    period,
    estimated_cost_micros: cost.micros,
    estimated_tokens: cost.tokens,
    reservation_id: held ? reservationId : null,
    reservation_expires_at: held ? new Date(Date.now() + ttlMs).toISOString() : null,
    budget_remaining_micros: reservation.budgetRemaining,
  };
}
