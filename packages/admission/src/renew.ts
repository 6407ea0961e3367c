import type { Redis } from "ioredis";
import { ADMISSION_DEFAULTS, type AdmissionLogger, type Reservation } from "./admission.ts";
import { defineAdmissionCommands } from "./commands.ts";
import { admissionKeys } from "./keys.ts";

export interface HoldKeeperOptions {
  redis: Redis;
  /** The holds' lifetime (`RESERVATION_TTL_MS`): each renewal moves a hold's deadline this far ahead. */
  reservationTtlMs?: number;
  /**
   * A hold kept longer than this (default a day) is no longer renewed and is left to the reaper: a call
   * whose end was never recorded (a bug) must not hold its budget forever.
   */
  maxKeepMs?: number;
  logger: AdmissionLogger;
}

/** Holds renewed per script run at most (Lua's `unpack` takes a few thousand values). */
const MAX_PER_RUN = 1_000;
const DAY_MS = 24 * 3600 * 1000;

interface Kept {
  tenantId: string;
  hold: string;
  since: number;
}

/**
 * Keeps the holds of calls still running from expiring. A hold lives `RESERVATION_TTL_MS` so that the reaper
 * can release what a crashed router leaked; a call that runs longer (a long stream, a slow reasoning model)
 * would otherwise lose its hold to the reaper while it still runs, and its budget would be free for other
 * requests to spend before the call's own cost is charged at its end: an overspend under concurrency.
 *
 * Each call's hold is kept from admission to its end (a Map entry, no Redis work). Every sixth of the lifetime
 * the holds kept for longer than that are renewed, one script run per tenant, to a full lifetime from Redis'
 * clock. A prefetched hold has at least half its lifetime left when a request takes it, so its first renewal
 * (at most a third of the lifetime later) comes before its deadline. A router that dies stops renewing, and
 * its holds are reaped one lifetime after their last renewal.
 */
export class HoldKeeper {
  private readonly kept = new Map<string, Kept>();
  private readonly everyMs: number;
  private readonly ttlMs: number;
  private readonly timer: ReturnType<typeof setInterval>;
  private renewing: Promise<number> | null = null;

  constructor(private readonly options: HoldKeeperOptions) {
    this.ttlMs = options.reservationTtlMs ?? ADMISSION_DEFAULTS.reservationTtlMs;
    this.everyMs = Math.max(10, Math.floor(this.ttlMs / 6));
    this.timer = setInterval(() => {
      this.renewing ??= this.renew(Date.now()).finally(() => {
        this.renewing = null;
      });
    }, this.everyMs);
    this.timer.unref?.();
  }

  /** Keeps the reservation's hold until `release`; a reservation without a hold (fail-open) is ignored. */
  keep(reservation: Reservation): void {
    if (reservation.hold)
      this.kept.set(reservation.id, {
        tenantId: reservation.tenantId,
        hold: reservation.hold,
        since: Date.now(),
      });
  }

  release(reservation: Reservation): void {
    this.kept.delete(reservation.id);
  }

  /** Holds kept now, for tests and metrics. */
  get size(): number {
    return this.kept.size;
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Renews the holds kept longer than one interval; a failure is logged, and the next interval tries again. */
  async renew(now: number): Promise<number> {
    const byTenant = new Map<string, string[]>();
    const maxKeepMs = this.options.maxKeepMs ?? DAY_MS;
    for (const [id, kept] of this.kept) {
      if (now - kept.since < this.everyMs) continue;
      if (now - kept.since > maxKeepMs) {
        this.kept.delete(id);
        this.options.logger.error(
          { reservation_id: id, tenant_id: kept.tenantId, kept_ms: now - kept.since },
          "a call held its budget longer than it may; its hold is no longer renewed and will be reaped",
        );
        continue;
      }
      const holds = byTenant.get(kept.tenantId);
      if (holds) holds.push(kept.hold);
      else byTenant.set(kept.tenantId, [kept.hold]);
    }
    if (byTenant.size === 0) return 0;
    const pipeline = defineAdmissionCommands(this.options.redis).pipeline();
    for (const [tenantId, holds] of byTenant)
      for (let i = 0; i < holds.length; i += MAX_PER_RUN)
        pipeline.cfAdmissionRenew(
          admissionKeys.due(tenantId),
          this.ttlMs,
          ...holds.slice(i, i + MAX_PER_RUN),
        );
    let renewed = 0;
    try {
      for (const [error, count] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        renewed += Number(count);
      }
    } catch (error) {
      this.options.logger.warn(
        { err: error, holds: [...byTenant.values()].reduce((n, holds) => n + holds.length, 0) },
        "could not renew the holds of long-running calls (Redis unreachable?); retrying next interval",
      );
    }
    return renewed;
  }
}
