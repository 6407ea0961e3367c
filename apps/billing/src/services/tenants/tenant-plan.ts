import type { Db, PlanRow, TenantRow } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { RefreshTenantKeys } from "../../deps.ts";
import { dropUnbilledTenantBudget } from "../budgets/unbilled-budget.ts";

export async function loadTenant(db: Db, tenantId: string): Promise<TenantRow> {
  try {
    return await db.operator.collection("tenants").getOne(tenantId);
  } catch {
    throw new AppError("not_found", "No such tenant", { field: "tenant_id" });
  }
}

export async function planById(db: Db, planId: string): Promise<PlanRow | null> {
  if (!planId) return null;
  return db.operator.collection("plans").getFirst({ filter: "id = {:id}", params: { id: planId } });
}

export function planBySlug(db: Db, slug: string): Promise<PlanRow | null> {
  return db.operator.collection("plans").getFirst({ filter: "slug = {:slug}", params: { slug } });
}

export function planByStripePrice(db: Db, priceId: string): Promise<PlanRow | null> {
  if (!priceId) return Promise.resolve(null);
  return db.operator
    .collection("plans")
    .getFirst({ filter: "stripe_price_id = {:price}", params: { price: priceId } });
}

/** The plan a tenant falls back to when its subscription ends or its grace runs out: the plan's own choice, else `free`. */
export async function fallbackPlan(db: Db, from: PlanRow | null): Promise<PlanRow | null> {
  const slug = from?.downgrade_to || "free";
  return (await planBySlug(db, slug)) ?? (slug === "free" ? null : planBySlug(db, "free"));
}

/**
 * Puts a tenant on a plan, then refreshes its KeyRecords so routers admit with the new limits at once; the
 * refresh stores the tier on the row after the records (`tenantKeysStale` reads a difference as records to
 * publish again) and audits the change against the tier before. Returns true when something changed.
 */
export async function applyTenantPlan(
  deps: { db: Db; refreshTenantKeys: RefreshTenantKeys },
  tenant: TenantRow,
  plan: PlanRow,
  extra: { stripe_customer_id?: string; stripe_subscription_id?: string } = {},
): Promise<boolean> {
  const changes = {
    ...(tenant.plan !== plan.id ? { plan: plan.id } : {}),
    ...(extra.stripe_customer_id && tenant.stripe_customer_id !== extra.stripe_customer_id
      ? { stripe_customer_id: extra.stripe_customer_id }
      : {}),
    ...(extra.stripe_subscription_id !== undefined &&
    tenant.stripe_subscription_id !== extra.stripe_subscription_id
      ? { stripe_subscription_id: extra.stripe_subscription_id }
      : {}),
  };
  // Only a move to another plan can end the overage billing a raised budget needed (a renewal of the same
  // plan changes nothing), and before the row moves: a drop that failed is tried again by the retry, which
  // still sees the old plan on the row.
  if (tenant.plan !== plan.id) await dropUnbilledTenantBudget(deps.db, tenant.id, plan);
  if (Object.keys(changes).length > 0)
    await deps.db.operator.collection("tenants").update(tenant.id, changes);
  await deps.refreshTenantKeys(tenant.id, tenant.tier);
  return Object.keys(changes).length > 0;
}
