import { readPeriodCounters, type ScopeCounters } from "@cloudfreedom/admission";
import { loadStandingLimits } from "@cloudfreedom/keyring";
import { AppError } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import { loadTenant, planById } from "../tenants/tenant-plan.ts";
import { loadPeriodTotals } from "./period-totals.ts";

export interface ScopeBudget {
  scope_type: "tenant" | "user" | "key";
  scope_id: string;
  /** null = no limit. */
  limit_micros: number | null;
  spent_micros: number;
  /** Held by requests in flight (reservations not settled yet). */
  reserved_micros: number;
  remaining_micros: number | null;
}

export interface BudgetView {
  tenant_id: string;
  period: string;
  period_start: string;
  period_end: string;
  currency: string;
  /** `live`: admission's Redis counters; `snapshot`: Redis unreachable, spend summed from usage_logs. */
  counters: "live" | "snapshot";
  query_limit: number | null;
  queries_used: number;
  scopes: ScopeBudget[];
}

const orNull = (value: number | null | undefined): number | null => (value ? value : null);

function scope(
  type: ScopeBudget["scope_type"],
  id: string,
  limit: number | null,
  counters: ScopeCounters,
): ScopeBudget {
  return {
    scope_type: type,
    scope_id: id,
    limit_micros: limit,
    spent_micros: counters.spent,
    reserved_micros: counters.reserved,
    remaining_micros: limit === null ? null : Math.max(0, limit - counters.spent - counters.reserved),
  };
}

/**
 * Limit, spent, reserved and remaining per scope (the tenant, and the user and key asked about) for the
 * tenant's current period. Live numbers come from admission's counters (rebuilt from PocketBase first if
 * Redis lost them); if Redis cannot be asked, spend is summed from the stored usage instead.
 */
export async function readBudget(
  deps: Pick<BillingDeps, "db" | "redis" | "admission" | "periods">,
  input: {
    tenantId: string;
    userId: string | null;
    keyId: string | null;
    /** Ids the caller named (`user_id`, `key_id` of the query): one this tenant does not have is a 404. */
    asked?: { userId?: string | undefined; keyId?: string | undefined };
  },
): Promise<BudgetView> {
  const tenant = await loadTenant(deps.db, input.tenantId);
  const [plan, standing, bounds] = await Promise.all([
    planById(deps.db, tenant.plan),
    loadStandingLimits(deps.db, tenant.id),
    deps.periods.current(tenant.id),
  ]);
  const key = input.keyId
    ? await deps.db
        .forTenant(tenant.id)
        .collection("api_keys")
        .getFirst({ filter: "id = {:id}", params: { id: input.keyId } })
    : null;
  if (input.asked?.keyId && !key)
    throw new AppError("not_found", `No key ${input.asked.keyId} in this tenant`, { field: "key_id" });
  if (
    input.asked?.userId &&
    !(await deps.db
      .forTenant(tenant.id)
      .collection("memberships")
      .getFirst({ filter: "user = {:id}", params: { id: input.asked.userId } }))
  )
    throw new AppError("not_found", `No member ${input.asked.userId} in this tenant`, { field: "user_id" });

  let live = true;
  let counters: {
    tenant: ScopeCounters;
    users: Record<string, ScopeCounters>;
    keys: Record<string, ScopeCounters>;
    queries: number;
  };
  try {
    await deps.admission.reseed(tenant.id, bounds.period);
    counters = await readPeriodCounters(deps.redis, tenant.id, bounds.period);
  } catch {
    live = false;
    const totals = await loadPeriodTotals(deps.db, tenant.id, bounds.period);
    const held = (total: { spent: number } | undefined) => ({ spent: total?.spent ?? 0, reserved: 0 });
    counters = {
      tenant: held(totals.tenant),
      users: Object.fromEntries([...totals.users].map(([id, t]) => [id, held(t)])),
      keys: Object.fromEntries([...totals.keys].map(([id, t]) => [id, held(t)])),
      queries: totals.tenant.queries,
    };
  }
  const zero = { spent: 0, reserved: 0 };
  const scopes = [
    scope("tenant", tenant.id, standing.tenant ?? orNull(plan?.monthly_budget_micros), counters.tenant),
  ];
  if (input.userId) {
    scopes.push(
      scope(
        "user",
        input.userId,
        standing.users.get(input.userId) ?? null,
        counters.users[input.userId] ?? zero,
      ),
    );
  }
  if (key) {
    scopes.push(
      scope(
        "key",
        key.id,
        // The key's own row is what its KeyRecord (and so the router) enforces; PUT /v1/budgets writes it
        // too, and auth's key update writes only it.
        orNull(key.budget_micros),
        counters.keys[key.id] ?? zero,
      ),
    );
  }
  return {
    tenant_id: tenant.id,
    period: bounds.period,
    period_start: bounds.start.toISOString(),
    period_end: bounds.end.toISOString(),
    currency: tenant.currency,
    counters: live ? "live" : "snapshot",
    query_limit: orNull(plan?.query_limit),
    queries_used: counters.queries,
    scopes,
  };
}
