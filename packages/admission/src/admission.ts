import { DURABLE_RETRY_HORIZON_MS } from "@cloudfreedom/queue";
import type { PeriodId } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import type { MaxCost } from "./cost.ts";
import type { CounterSource } from "./counter-source.ts";
import { admissionUnavailable, denialError } from "./denials.ts";
import { type ReapReport, reapReservations } from "./reap.ts";
import type { AdmitReply, RateStatus } from "./replies.ts";
import { type ReseedOutcome, reseedCounters } from "./reseed.ts";
import { AdmitBatcher, type ReserveRequest, runAdmit } from "./reserve.ts";
import { runSettleBatch, type SettleRequest, type SettleResult } from "./settle.ts";

export interface AdmissionLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface AdmissionOptions {
  redis: Redis;
  source: CounterSource;
  logger: AdmissionLogger;
  /** Admit (and log loudly) when Redis cannot be asked, instead of `503 admission_unavailable`. */
  failOpen?: boolean;
  /** Default lifetime of a hold nobody settles. */
  reservationTtlMs?: number;
  /** How long (at least; at most twice) a settled reservation id is remembered, so a repeated settle counts once. */
  settledRetentionMs?: number;
  /** How long a request waits for another process's reseed. */
  seedWaitMs?: number;
}

export interface Reservation {
  id: string;
  tenantId: string;
  keyId: string;
  userId: string | null;
  period: PeriodId;
  cost: MaxCost;
  /** False when admitted without a hold (fail-open while Redis was unreachable, or a dry run). */
  held: boolean;
  /** The hold as stored, for settlement (`SettleRequest.hold`); null when nothing is held. */
  hold: string | null;
  rate: RateStatus | null;
  /** What the tightest budget has left after this hold; null when no budget applies. */
  budgetRemaining: number | null;
  /** Queries the tenant has left this period after this one; null when it has no query limit. */
  queriesRemaining: number | null;
}

export type ReserveInput = Omit<ReserveRequest, "ttlMs"> & { ttlMs?: number };

export const ADMISSION_DEFAULTS = {
  reservationTtlMs: 10 * 60_000,
  settledRetentionMs: 15 * 60_000,
  seedWaitMs: 10_000,
} as const;

export interface SettleOptions {
  /**
   * How long these reservation ids are remembered as settled (default: the admission's `settledRetentionMs`).
   * Settlements that may be repeated much later (usage reported through the billing API, retried for as long
   * as its queue job) need the id remembered that long; a repeat would charge again otherwise. Ids are
   * remembered per retention; a settle also looks the ids up under `settledRetentionMs` and the billing
   * worker's retention (`DURABLE_RETRY_HORIZON_MS`), so a call the router settled is not charged again by the
   * worker (and the other way round) whichever retention each used.
   */
  retentionMs?: number;
}

/**
 * Budgets, query and rate limits for one process: reserve before the provider is called, settle after, reap
 * what crashed routers leaked, and rebuild counters after Redis lost them. Router and billing share it.
 */
export class Admission {
  private readonly seeding = new Map<string, Promise<ReseedOutcome>>();
  private failOpenLoggedAt = 0;
  private failOpenSilenced = 0;
  private readonly admitter: AdmitBatcher;

  constructor(private readonly options: AdmissionOptions) {
    this.admitter = new AdmitBatcher(options.redis);
  }

  get settledRetentionMs(): number {
    return this.options.settledRetentionMs ?? ADMISSION_DEFAULTS.settledRetentionMs;
  }

  /**
   * One round trip (two plus a reseed the first time a tenant's period is seen), shared with the tenant's
   * other requests in flight (AdmitBatcher). Throws the denial.
   */
  async reserve(input: ReserveInput): Promise<Reservation> {
    const req = this.withTtl(input);
    let reply: AdmitReply;
    try {
      reply = await this.admitter.admit(req);
      if (reply.kind === "unseeded") {
        await this.reseed(req.tenantId, req.period);
        reply = await this.admitter.admit(req);
      }
    } catch (error) {
      return this.unavailable(req, error);
    }
    switch (reply.kind) {
      case "ok":
        return admitted(req, reply);
      case "unseeded":
        return this.unavailable(req, new Error("counters still unseeded after a reseed"));
      default:
        throw denialError(reply, {
          period: req.period,
          periodEnd: req.periodEnd,
          requestedMicros: req.cost.micros,
          requestedTokens: req.cost.tokens,
          scopeIds: { tenant: req.tenantId, user: req.userId, key: req.keyId },
        });
    }
  }

  /**
   * Holds for requests that have not arrived yet (`HoldPrefetcher`): one script run for requests of one tenant,
   * period and hold lifetime, no batching with other callers, no reseed. Each is admitted or not exactly as a
   * request would be; a denied or unseeded one is null. Throws when Redis cannot be asked.
   */
  async prefetch(inputs: readonly ReserveInput[]): Promise<Array<Reservation | null>> {
    const reqs = inputs.map((input) => this.withTtl(input));
    const replies = await runAdmit(this.options.redis, reqs);
    return replies.map((reply, i) => {
      const req = reqs[i];
      return req && reply.kind === "ok" && reply.hold !== null ? admitted(req, reply) : null;
    });
  }

  /**
   * Settles a batch in one pipelined round trip. Items whose counters are unseeded are reseeded and retried
   * once; items that fail are returned as `failed` for the caller to retry (settling is idempotent).
   */
  async settle(batch: SettleRequest[], options: SettleOptions = {}): Promise<SettleResult[]> {
    const retentionMs = options.retentionMs ?? this.settledRetentionMs;
    const results = await this.settleOnce(batch, retentionMs);
    const unseeded = batch.flatMap((req, i) => {
      const result = results[i];
      return result?.kind === "unseeded"
        ? [{ req, i, period: (result.period ?? req.period) as PeriodId }]
        : [];
    });
    if (unseeded.length === 0) return results;
    await Promise.all(
      unseeded.map(({ req, period }) =>
        this.reseed(req.tenantId, period).catch((error: unknown) => {
          this.options.logger.warn(
            { err: error, tenant_id: req.tenantId, period },
            "reseed before settlement failed; will retry",
          );
        }),
      ),
    );
    const retried = await this.settleOnce(
      unseeded.map(({ req }) => req),
      retentionMs,
    );
    unseeded.forEach(({ i }, j) => {
      results[i] = retried[j] ?? results[i] ?? { kind: "failed", error: new Error("no settle result") };
    });
    return results;
  }

  reap(options: { tenantIds?: string[]; batch?: number } = {}): Promise<ReapReport> {
    return reapReservations(this.options.redis, options);
  }

  /** Rebuilds a tenant's period counters from PocketBase, single-flight in this process and across processes. */
  reseed(tenantId: string, period: PeriodId): Promise<ReseedOutcome> {
    const flight = `${tenantId}:${period}`;
    let pending = this.seeding.get(flight);
    if (!pending) {
      pending = reseedCounters(
        { redis: this.options.redis, source: this.options.source, waitMs: this.options.seedWaitMs },
        tenantId,
        period,
      )
        .then((outcome) => {
          if (outcome === "seeded")
            this.options.logger.info(
              { tenant_id: tenantId, period },
              "admission counters rebuilt from PocketBase",
            );
          return outcome;
        })
        .finally(() => this.seeding.delete(flight));
      this.seeding.set(flight, pending);
    }
    return pending;
  }

  private withTtl(input: ReserveInput): ReserveRequest {
    return {
      ...input,
      ttlMs: input.ttlMs ?? this.options.reservationTtlMs ?? ADMISSION_DEFAULTS.reservationTtlMs,
    };
  }

  private async settleOnce(batch: SettleRequest[], retentionMs: number): Promise<SettleResult[]> {
    try {
      return await runSettleBatch(this.options.redis, batch, retentionMs, [
        this.settledRetentionMs,
        DURABLE_RETRY_HORIZON_MS,
      ]);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      return batch.map(() => ({ kind: "failed", error: failure }));
    }
  }

  private unavailable(req: ReserveRequest, error: unknown): Reservation {
    if (!this.options.failOpen) {
      this.options.logger.warn(
        { err: error, tenant_id: req.tenantId },
        "admission unavailable: request refused (fail closed)",
      );
      throw admissionUnavailable(error);
    }
    const now = Date.now();
    if (now - this.failOpenLoggedAt >= 1_000) {
      this.options.logger.error(
        {
          err: error,
          tenant_id: req.tenantId,
          key_id: req.keyId,
          admitted_unchecked_since_last_log: this.failOpenSilenced,
        },
        "BUDGET_FAIL_OPEN: admission unavailable, admitting WITHOUT budget, query or rate limit checks",
      );
      this.failOpenLoggedAt = now;
      this.failOpenSilenced = 0;
    } else {
      this.failOpenSilenced += 1;
    }
    return admitted(req, { hold: null, rate: null, budgetRemaining: null, queriesRemaining: null });
  }
}

/** The reservation of an admitted request; without a hold when it was admitted unchecked (fail-open). */
function admitted(
  req: ReserveRequest,
  reply: Pick<Reservation, "hold" | "rate" | "budgetRemaining" | "queriesRemaining">,
): Reservation {
  return {
    id: req.reservationId,
    tenantId: req.tenantId,
    keyId: req.keyId,
    userId: req.userId,
    period: req.period,
    cost: req.cost,
    held: reply.hold !== null,
    hold: reply.hold,
    rate: reply.rate,
    budgetRemaining: reply.budgetRemaining,
    queriesRemaining: reply.queriesRemaining,
  };
}
