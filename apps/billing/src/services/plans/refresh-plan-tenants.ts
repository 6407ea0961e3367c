import { type CollectionName, createCollection, type PlanRow, type RowOf } from "@cloudfreedom/db";
import type { BillingDeps } from "../../deps.ts";

type RefreshDeps = Pick<BillingDeps, "db" | "refreshTenantKeys" | "logger">;

const PAGE_SIZE = 200;
/** Tenants refreshed at once: each refresh holds only its own tenant's keyring lock; PocketBase is one node. */
const CONCURRENCY = 4;
/** Subscriptions that may grant again (a past-due one is paid again without a subscription event). */
const NOT_ENDED = "status != 'canceled' && status != 'incomplete_expired'";

export interface PlanTenantsRefresh {
  /** Tenants whose KeyRecords were republished. */
  refreshed: number;
  /** Tenants whose refresh failed, and subscriptions whose tier could not be updated (both logged). */
  failed: number;
  /** Subscriptions of the plan whose mirrored tier was brought to the plan's. */
  subscriptions: number;
}

/** Rows matching `filter`, 200 at a time in id order (a cursor, so rows changed meanwhile are not skipped). */
async function* pagesOf<C extends CollectionName>(
  deps: Pick<BillingDeps, "db">,
  name: C,
  filter: string,
  params: Record<string, unknown>,
): AsyncGenerator<RowOf<C>[]> {
  const collection = createCollection(deps.db.client, name);
  let after = "";
  for (;;) {
    const page = await collection.list({
      filter: `(${filter}) && id > {:after}`,
      params: { ...params, after },
      sort: "id",
      perPage: PAGE_SIZE,
    });
    if (page.items.length === 0) return;
    yield page.items;
    const last = page.items[page.items.length - 1];
    if (!last || page.items.length < PAGE_SIZE) return;
    after = last.id;
  }
}

/**
 * After an operator changed a plan: the subscriptions of the plan take its tier (a tenant's tier is resolved
 * from its subscription first), then every tenant on the plan (`tenants.plan`) or with a subscription of it
 * gets its KeyRecords republished, which stores the resolved tier on the tenant row. Paged and a few tenants
 * at a time; a tenant that fails is logged and counted, the others still refreshed.
 */
export async function refreshPlanTenants(deps: RefreshDeps, plan: PlanRow): Promise<PlanTenantsRefresh> {
  const result: PlanTenantsRefresh = { refreshed: 0, failed: 0, subscriptions: 0 };
  const subscribers = new Set<string>();
  for await (const rows of pagesOf(deps, "subscriptions", `plan = {:plan} && ${NOT_ENDED}`, {
    plan: plan.id,
  })) {
    for (const row of rows) {
      subscribers.add(row.tenant);
      if (row.tier === plan.tier) continue;
      try {
        await deps.db.forTenant(row.tenant).collection("subscriptions").update(row.id, { tier: plan.tier });
        result.subscriptions += 1;
      } catch (error) {
        // The plan is saved either way; its tenant is still republished below (and counted if that fails).
        result.failed += 1;
        deps.logger.warn(
          { err: error, tenant: row.tenant, subscription: row.id, plan: plan.slug },
          "could not move a subscription to its plan's new tier",
        );
      }
    }
  }

  const done = new Set<string>();
  const refresh = async (tenantIds: string[]) => {
    const pending = tenantIds.filter((id) => !done.has(id));
    if (pending.length === 0) return;
    for (let i = 0; i < pending.length; i += CONCURRENCY) {
      await Promise.all(
        pending.slice(i, i + CONCURRENCY).map(async (tenantId) => {
          done.add(tenantId);
          try {
            await deps.refreshTenantKeys(tenantId);
            result.refreshed += 1;
          } catch (error) {
            result.failed += 1;
            deps.logger.warn(
              { err: error, tenant: tenantId, plan: plan.slug },
              "could not refresh a tenant's keys after a plan change",
            );
          }
        }),
      );
    }
    deps.logger.info({ plan: plan.slug, ...result }, "plan change: refreshing its tenants' keys");
  };
  for await (const tenants of pagesOf(deps, "tenants", "plan = {:plan}", { plan: plan.id })) {
    await refresh(tenants.map((tenant) => tenant.id));
  }
  const rest = [...subscribers];
  for (let i = 0; i < rest.length; i += PAGE_SIZE) await refresh(rest.slice(i, i + PAGE_SIZE));
  return result;
}
