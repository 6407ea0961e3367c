import { withLock } from "@cloudfreedom/queue";
import { type PeriodId, periodEnd } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { defineAdmissionCommands } from "./commands.ts";
import type { CounterSource, PeriodTotals } from "./counter-source.ts";
import { admissionKeys, periodFields } from "./keys.ts";

/** A period's counters outlive it by this much, so late settlements and the rollover still find them. */
export const PERIOD_RETENTION_MS = 62 * 24 * 3600 * 1000;
/**
 * Counters rebuilt for a period that ended longer ago than that (usage reported late through the billing API)
 * live at least this long: expiring at once, the settlement that asked for them would find them unseeded again,
 * forever.
 */
const MIN_SEEDED_LIFETIME_MS = 24 * 3600 * 1000;

/** The period hash fields a reseed writes: spend per scope and the counted queries. */
export function seedFields(totals: PeriodTotals): string[] {
  const fields = [
    periodFields.spent({ scope: "tenant", id: "" }),
    String(totals.tenant),
    periodFields.queries,
    String(totals.queries),
  ];
  for (const [id, micros] of Object.entries(totals.users))
    fields.push(periodFields.spent({ scope: "user", id }), String(micros));
  for (const [id, micros] of Object.entries(totals.keys))
    fields.push(periodFields.spent({ scope: "key", id }), String(micros));
  return fields;
}

export interface ReseedContext {
  redis: Redis;
  source: CounterSource;
  /** How long one reseed may hold the lock (a crashed holder's lock expires after this). */
  lockMs?: number;
  /** How long to wait for another process's reseed before giving up. */
  waitMs?: number;
  pollMs?: number;
}

export type ReseedOutcome = "already_seeded" | "seeded" | "seeded_elsewhere";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Rebuilds a tenant's counters for a period from the system of record, once: until the period hash carries
 * `seeded`, admission refuses to trust it. Across processes one holder of `seed-lock:<period>` loads and writes
 * (the write itself is skipped if someone seeded meanwhile); the others wait for the marker. No counter is
 * written while unseeded, so nothing can be counted twice.
 */
export async function reseedCounters(
  ctx: ReseedContext,
  tenantId: string,
  period: PeriodId,
): Promise<ReseedOutcome> {
  const redis = defineAdmissionCommands(ctx.redis);
  const periodKey = admissionKeys.period(tenantId, period);
  const lockKey = admissionKeys.seedLock(tenantId, period);
  const deadline = Date.now() + (ctx.waitMs ?? 10_000);
  let waited = false;
  for (;;) {
    if ((await redis.hexists(periodKey, periodFields.seeded)) === 1)
      return waited ? "seeded_elsewhere" : "already_seeded";
    const locked = await withLock(redis, lockKey, ctx.lockMs ?? 15_000, async (): Promise<ReseedOutcome> => {
      // The previous holder may have written the marker just before releasing the lock we now hold.
      if ((await redis.hexists(periodKey, periodFields.seeded)) === 1) return "seeded_elsewhere";
      const totals = await ctx.source.load(tenantId, period);
      const expireAt = Math.max(
        periodEnd(period).getTime() + PERIOD_RETENTION_MS,
        Date.now() + MIN_SEEDED_LIFETIME_MS,
      );
      const written = await redis.cfAdmissionSeed(periodKey, expireAt, ...seedFields(totals));
      return written === 1 ? "seeded" : "seeded_elsewhere";
    });
    if (locked.held) return locked.value;
    if (Date.now() > deadline)
      throw new Error(`reseed of ${tenantId} ${period} by another process did not finish in time`);
    waited = true;
    await sleep(ctx.pollMs ?? 25);
  }
}
