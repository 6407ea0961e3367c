import type { Db, TenantRow } from "@cloudfreedom/db";
import type { Tier } from "@cloudfreedom/shared";
import { metrics } from "@opentelemetry/api";
import { decidingSubscription, liveSubscriptions, subscriptionGrantsTier } from "./subscriptions.ts";

/** The slice of a pino logger the keyring uses. */
export interface KeyringLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export type TierSource = "subscription" | "plan" | "tenant" | "fallback";

export interface ResolvedTier {
  tier: Tier;
  source: TierSource;
}

const fallbackCounter = metrics
  .getMeter("@cloudfreedom/keyring")
  .createCounter("cf_tier_lookup_fallbacks_total", {
    description: "Tier lookups that failed and served the tenant as free",
  });
let fallbacks = 0;

/** How many tier lookups fell back to `free` in this process (also exported as an OpenTelemetry counter). */
export function tierFallbackCount(): number {
  return fallbacks;
}

async function lookupTier(db: Db, tenant: TenantRow, nowMs: number): Promise<ResolvedTier> {
  const granting = decidingSubscription(await liveSubscriptions(db, tenant.id), tenant, (row) =>
    subscriptionGrantsTier(row, nowMs),
  );
  if (granting) return { tier: granting.tier, source: "subscription" };
  if (tenant.plan) {
    const plan = await db.operator.collection("plans").getOne(tenant.plan);
    return { tier: plan.tier, source: "plan" };
  }
  return { tier: tenant.tier, source: "tenant" };
}

/**
 * A tenant's tier (DESIGN.md §7): its active subscription's (the current one named on the tenant row first),
 * else its plan's, else the tier on the tenant row.
 * When the lookup fails the tenant is served as `free`, a warning names the reason and a counter goes up.
 */
export async function resolveTier(options: {
  db: Db;
  tenantId: string;
  /** The tenant row when the caller has it (saves a read). */
  tenant?: TenantRow;
  logger?: KeyringLogger;
  now?: number;
}): Promise<ResolvedTier> {
  try {
    const tenant =
      options.tenant ?? (await options.db.operator.collection("tenants").getOne(options.tenantId));
    return await lookupTier(options.db, tenant, options.now ?? Date.now());
  } catch (error) {
    fallbacks += 1;
    fallbackCounter.add(1);
    options.logger?.warn(
      { tenant: options.tenantId, reason: error instanceof Error ? error.message : String(error) },
      "tier lookup failed; serving the tenant as free",
    );
    return { tier: "free", source: "fallback" };
  }
}
