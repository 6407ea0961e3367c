import { createHash } from "node:crypto";
import {
  AppError,
  applyMarkup,
  priceUsage,
  redisKeys,
  UsageEvent,
  type UsageEventInput,
} from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import type { Principal } from "../auth/principal.ts";
import { loadTenant, planById } from "../tenants/tenant-plan.ts";

/** Usage reported by another gateway: what it knows; the rest (tenant, period, billed) is ours to decide. */
export interface UsageReport {
  model: string;
  tokens: {
    input: number;
    output: number;
    cached_input?: number | undefined;
    reasoning?: number | undefined;
  };
  /** Provider cost in micro-units; absent = priced from the model catalog. */
  cost_micros?: number | undefined;
  status: UsageEvent["status"];
  error_code?: string | null | undefined;
  latency_ms: number;
  stream: boolean;
  provider?: string | null | undefined;
  request_id?: string | undefined;
  /** From `POST /v1/budget/check` with `reserve: true`: settling releases the hold. */
  reservation_id?: string | null | undefined;
  key_id?: string | null | undefined;
  user_id?: string | null | undefined;
  occurred_at?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

const IDEMPOTENCY_TTL_S = 24 * 60 * 60;

/** The event id is derived from the tenant and the Idempotency-Key: a retried report is the same event. */
export function usageEventId(tenantId: string, idempotencyKey: string): string {
  return `evt_${createHash("sha256").update(`${tenantId}\n${idempotencyKey}`).digest("hex").slice(0, 40)}`;
}

async function assertOwned(
  deps: Pick<BillingDeps, "db">,
  tenantId: string,
  report: UsageReport,
): Promise<void> {
  const scoped = deps.db.forTenant(tenantId);
  if (
    report.key_id &&
    !(await scoped.collection("api_keys").getFirst({ filter: "id = {:id}", params: { id: report.key_id } }))
  ) {
    throw new AppError("not_found", `No key ${report.key_id} in this tenant`, { field: "key_id" });
  }
  if (
    report.user_id &&
    !(await scoped
      .collection("memberships")
      .getFirst({ filter: "user = {:id}", params: { id: report.user_id } }))
  ) {
    throw new AppError("not_found", `No user ${report.user_id} in this tenant`, { field: "user_id" });
  }
}

/**
 * `POST /v1/usage`: a usage event for the caller's tenant onto queue `usage`, where the billing worker
 * persists it exactly once (as it does the router's). The same Idempotency-Key with the same body is accepted
 * again without effect; with a different body it is refused (409), so a key cannot silently mean two reports.
 */
export async function logUsage(
  deps: Pick<BillingDeps, "db" | "redis" | "catalog" | "periods" | "usageQueue">,
  principal: Exclude<Principal, { kind: "operator" }>,
  report: UsageReport,
  idempotencyKey: string,
): Promise<{ event: UsageEvent; replayed: boolean }> {
  const tenantId = principal.tenantId;
  if (report.key_id || report.user_id) await assertOwned(deps, tenantId, report);
  const tenant = await loadTenant(deps.db, tenantId);
  const markup =
    principal.kind === "key"
      ? principal.record.tenant_limits.markup_pct
      : ((await planById(deps.db, tenant.plan))?.markup_pct ?? 0);
  const tokens = {
    input: report.tokens.input,
    output: report.tokens.output,
    cached_input: report.tokens.cached_input ?? 0,
    reasoning: report.tokens.reasoning ?? 0,
  };
  const cost =
    report.cost_micros ?? priceUsage(tokens, (await deps.catalog.require(report.model)).prices, 0).cost;
  const occurredAt = report.occurred_at ? new Date(report.occurred_at) : new Date();
  const eventId = usageEventId(tenantId, idempotencyKey);
  const payload: UsageEventInput = {
    event_id: eventId,
    request_id: report.request_id ?? `req_${eventId.slice(4, 28)}`,
    tenant_id: tenantId,
    key_id: report.key_id ?? (principal.kind === "key" ? principal.keyId : null),
    user_id: report.user_id ?? principal.userId,
    model: report.model,
    provider: report.provider ?? null,
    deployment: null,
    reservation_id: report.reservation_id ?? null,
    period: (await deps.periods.current(tenantId, occurredAt)).period,
    tokens,
    cost_micros: cost,
    billed_micros: applyMarkup(cost, markup),
    status: report.status,
    error_code: report.error_code ?? null,
    latency_ms: report.latency_ms,
    stream: report.stream,
    source: "api",
    occurred_at: occurredAt.toISOString(),
    ...(report.metadata ? { metadata: report.metadata } : {}),
  };
  const fingerprint = createHash("sha256").update(JSON.stringify(report)).digest("hex");
  const claimKey = redisKeys.tenant(
    tenantId,
    "usage-idem",
    createHash("sha256").update(idempotencyKey).digest("hex"),
  );
  const claimed = await deps.redis.set(claimKey, fingerprint, "EX", IDEMPOTENCY_TTL_S, "NX");
  if (claimed !== "OK" && (await deps.redis.get(claimKey)) !== fingerprint) {
    throw new AppError("conflict", "This Idempotency-Key was already used with a different body", {
      field: "idempotency-key",
    });
  }
  // A batch of one, named after its event: the same report enqueued twice is one job.
  const batchId = `job_${eventId.slice("evt_".length)}`;
  await deps.usageQueue.add({ batch_id: batchId, events: [payload] }, { jobId: batchId });
  return { event: UsageEvent.parse(payload), replayed: claimed !== "OK" };
}
