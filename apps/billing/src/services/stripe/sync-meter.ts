import { type BudgetRow, type Db, type TenantRow, toPbDate } from "@cloudfreedom/db";
import type { PeriodBounds } from "@cloudfreedom/shared";
import type Stripe from "stripe";
import type { BillingDeps } from "../../deps.ts";
import { loadPeriodTotals } from "../budgets/period-totals.ts";
import { planById } from "../tenants/tenant-plan.ts";

/** The one Stripe call meter sync makes (a Stripe client is one; tests may wrap it to see what was sent). */
export interface MeterClient {
  billing: { meterEvents: { create(params: Stripe.Billing.MeterEventCreateParams): Promise<unknown> } };
}

type MeterDeps = Pick<BillingDeps, "db" | "env" | "periods" | "logger"> & { stripe: MeterClient };

export interface MeterReport {
  tenants: number;
  /** Meter events sent (one per tenant and period with new overage). */
  batches: number;
  units: number;
}

/** Overage units of a period: spend above the included budget, in whole meter units (the rest waits). */
export function overageUnits(spentMicros: number, includedMicros: number, unitMicros: number): number {
  return Math.floor(Math.max(0, spentMicros - includedMicros) / unitMicros);
}

/** The meter event's identifier: Stripe de-duplicates on it, so a batch re-sent after a crash counts once. */
export function meterIdentifier(tenantId: string, period: string, batch: number): string {
  return `cf-${tenantId}-${period}-${batch}`;
}

async function tenantRow(db: Db, tenant: TenantRow, period: string): Promise<BudgetRow> {
  const budgets = db.forTenant(tenant.id).collection("budgets");
  const filter = { filter: "scope_type = 'tenant' && period = {:period}", params: { period } };
  return (
    (await budgets.getFirst(filter)) ??
    (await budgets
      .create({ scope_type: "tenant", scope_id: tenant.id, period })
      .catch(async (error: unknown) => {
        const row = await budgets.getFirst(filter);
        if (!row) throw error;
        return row;
      }))
  );
}

/**
 * Sends what is pending, then what is new. The batch about to be sent is written down first
 * (`meter_pending_units`, with its batch number in `meter_batches`), so a crash between Stripe's answer and our
 * bookkeeping re-sends the same identifier with the same value: Stripe keeps one, and we count it once.
 */
async function syncPeriod(
  deps: MeterDeps,
  tenant: TenantRow,
  bounds: PeriodBounds,
  planIncludedMicros: number,
  now: Date,
): Promise<number> {
  const budgets = deps.db.forTenant(tenant.id).collection("budgets");
  let row = await tenantRow(deps.db, tenant, bounds.period);
  // The period's included budget is the largest the tenant's plans gave during it: a later downgrade does not
  // turn what the earlier plan included into overage. Once the period ended, the plan now in force was not
  // one of them: what the syncs during the period recorded stands (the plan now only when none ran).
  const ended = now.getTime() >= bounds.end.getTime();
  const included =
    ended && row.meter_included_micros > 0
      ? row.meter_included_micros
      : Math.max(row.meter_included_micros, planIncludedMicros);
  if (included !== row.meter_included_micros)
    row = await budgets.update(row.id, { meter_included_micros: included });
  const send = async (units: number) => {
    const at = Math.min(now.getTime(), bounds.end.getTime() - 1000);
    await deps.stripe.billing.meterEvents.create({
      event_name: deps.env.STRIPE_METER_EVENT_NAME,
      identifier: meterIdentifier(tenant.id, bounds.period, row.meter_batches),
      timestamp: Math.floor(at / 1000),
      payload: { stripe_customer_id: tenant.stripe_customer_id, value: String(units) },
    });
    row = await budgets.update(row.id, {
      metered_units: row.metered_units + units,
      meter_batches: row.meter_batches + 1,
      meter_pending_units: 0,
    });
  };
  let sent = 0;
  if (row.meter_pending_units > 0) {
    sent += row.meter_pending_units;
    await send(row.meter_pending_units);
  }
  const spent = (await loadPeriodTotals(deps.db, tenant.id, bounds.period)).tenant.spent;
  const delta = overageUnits(spent, included, deps.env.STRIPE_METER_UNIT_MICROS) - row.metered_units;
  if (delta > 0) {
    row = await budgets.update(row.id, { meter_pending_units: delta });
    await send(delta);
    sent += delta;
  }
  return sent;
}

/** A closed tenant is still synced this long after its row last changed: its last two periods are billed. */
const CLOSED_SYNC_MS = 70 * 86_400_000;

/**
 * `stripe_meter_sync`: for every tenant with a Stripe customer and a plan with an included budget, reports the
 * spend above that budget in the current and the previous period as billing meter events (batched: one event
 * per tenant and period per run, carrying all new overage). Suspended tenants too (what they spent before the
 * suspension is owed), and closed ones until their last periods are past.
 */
export async function syncStripeMeter(deps: MeterDeps, now = new Date()): Promise<MeterReport> {
  const tenants = await deps.db.operator.collection("tenants").listAll({
    filter: "stripe_customer_id != '' && (status != 'closed' || updated >= {:since})",
    params: { since: toPbDate(new Date(now.getTime() - CLOSED_SYNC_MS)) },
  });
  const report: MeterReport = { tenants: 0, batches: 0, units: 0 };
  for (const tenant of tenants) {
    const plan = await planById(deps.db, tenant.plan);
    if (!plan || plan.monthly_budget_micros === 0) continue;
    report.tenants += 1;
    const current = await deps.periods.current(tenant.id, now);
    const previous = await deps.periods.current(tenant.id, new Date(current.start.getTime() - 1));
    for (const bounds of [previous, current]) {
      try {
        const units = await syncPeriod(deps, tenant, bounds, plan.monthly_budget_micros, now);
        if (units > 0) {
          report.batches += 1;
          report.units += units;
        }
      } catch (error) {
        deps.logger.warn(
          { err: error, tenant: tenant.id, period: bounds.period },
          "stripe meter sync failed; will retry",
        );
      }
    }
  }
  return report;
}
