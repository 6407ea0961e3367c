import { pbDateToMs, type SubscriptionRow, toPbDate } from "@cloudfreedom/db";
import type { BillingDeps } from "../../deps.ts";
import { planById } from "../tenants/tenant-plan.ts";
import { findSubscriptionRow } from "./apply-subscription.ts";
import { type Invoice, invoiceSubscriptionId } from "./webhook-payloads.ts";

type InvoiceDeps = Pick<BillingDeps, "db" | "refreshTenantKeys" | "env" | "logger">;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The subscription row an invoice event is for, or why it changes nothing: no such subscription, an invoice
 * event already applied is newer, or a newer subscription event already shows the state this event would
 * undo (`contradicts`: a payment failure after the subscription was seen active again, a payment after it was
 * seen past due again). Stripe's order of delivery is any: a renewal that failed and was then paid must not
 * end in the failure's grace, and a failure must not be lost behind its own `past_due` update.
 */
async function invoiceTarget(
  deps: InvoiceDeps,
  invoice: Invoice,
  eventCreated: number,
  contradicts: (status: SubscriptionRow["status"]) => boolean,
): Promise<SubscriptionRow | "unmapped" | "stale"> {
  const stripeId = invoiceSubscriptionId(invoice);
  const row = stripeId ? await findSubscriptionRow(deps, stripeId) : null;
  if (!row) return "unmapped";
  if (row.last_invoice_at > eventCreated) return "stale";
  return row.last_event_at > eventCreated && contradicts(row.status) ? "stale" : row;
}

/**
 * `invoice.payment_failed`: the subscription is past due; the tenant keeps its tier until `grace_until`
 * (the plan's `grace_days`, else PAYMENT_GRACE_DAYS), after which `payment_grace_expiry` downgrades it.
 * A second failure does not extend the grace.
 */
export async function applyPaymentFailed(
  deps: InvoiceDeps,
  invoice: Invoice,
  eventCreated: number,
  now = new Date(),
): Promise<string> {
  const row = await invoiceTarget(
    deps,
    invoice,
    eventCreated,
    (status) => status === "active" || status === "trialing",
  );
  if (typeof row === "string") return row;
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
      last_invoice_at: eventCreated,
    });
  await deps.refreshTenantKeys(row.tenant);
  return "applied";
}

/** `invoice.paid`: a past-due subscription is active again and its grace is cleared. */
export async function applyInvoicePaid(
  deps: InvoiceDeps,
  invoice: Invoice,
  eventCreated: number,
): Promise<string> {
  const row = await invoiceTarget(deps, invoice, eventCreated, (status) => status === "past_due");
  if (typeof row === "string") return row;
  const clears = row.status === "past_due" || Boolean(row.grace_until);
  await deps.db
    .forTenant(row.tenant)
    .collection("subscriptions")
    .update(row.id, {
      ...(clears ? { status: row.status === "past_due" ? "active" : row.status, grace_until: "" } : {}),
      last_invoice_at: eventCreated,
    });
  if (clears) await deps.refreshTenantKeys(row.tenant);
  return "applied";
}
