import { pbDateToMs, toPbDate } from "@cloudfreedom/db";
import type { BillingDeps } from "../../deps.ts";
import { planById } from "../tenants/tenant-plan.ts";
import { findSubscriptionRow } from "./apply-subscription.ts";
import { type Invoice, invoiceSubscriptionId } from "./webhook-payloads.ts";

type InvoiceDeps = Pick<BillingDeps, "db" | "refreshTenantKeys" | "env" | "logger">;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * `invoice.payment_failed`: the subscription is past due; the tenant keeps its tier until `grace_until`
 * (the plan's `grace_days`, else PAYMENT_GRACE_DAYS), after which `payment_grace_expiry` downgrades it.
 * A second failure does not extend the grace.
 */
export async function applyPaymentFailed(
  deps: InvoiceDeps,
  invoice: Invoice,
  now = new Date(),
): Promise<string> {
  const stripeId = invoiceSubscriptionId(invoice);
  const row = stripeId ? await findSubscriptionRow(deps, stripeId) : null;
  if (!row) return "unmapped";
  const plan = await planById(deps.db, row.plan);
  const graceDays = plan?.grace_days || deps.env.PAYMENT_GRACE_DAYS;
  const existing = pbDateToMs(row.grace_until);
  const graceUntil =
    existing !== null && existing > now.getTime()
      ? row.grace_until
      : toPbDate(now.getTime() + graceDays * DAY_MS);
  await deps.db
    .forTenant(row.tenant)
    .collection("subscriptions")
    .update(row.id, {
      status: row.status === "active" || row.status === "trialing" ? "past_due" : row.status,
      grace_until: graceUntil,
    });
  await deps.refreshTenantKeys(row.tenant);
  return "applied";
}

/** `invoice.paid`: a past-due subscription is active again and its grace is cleared. */
export async function applyInvoicePaid(deps: InvoiceDeps, invoice: Invoice): Promise<string> {
  const stripeId = invoiceSubscriptionId(invoice);
  const row = stripeId ? await findSubscriptionRow(deps, stripeId) : null;
  if (!row) return "unmapped";
  if (row.status === "past_due" || row.grace_until) {
    await deps.db
      .forTenant(row.tenant)
      .collection("subscriptions")
      .update(row.id, { status: row.status === "past_due" ? "active" : row.status, grace_until: "" });
    await deps.refreshTenantKeys(row.tenant);
  }
  return "applied";
}
