import { newId, type PeriodId, periodOf } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import type { Reservation, ReserveInput } from "../../src/admission.ts";
import { Admission, type AdmissionLogger } from "../../src/admission.ts";
import { type AdmissionLimits, NO_LIMITS } from "../../src/cost.ts";
import { type CounterSource, emptyTotals, type PeriodTotals } from "../../src/counter-source.ts";
import { readPeriodCounters } from "../../src/read.ts";
import type { SettleRequest } from "../../src/settle.ts";

export { NO_LIMITS } from "../../src/cost.ts";

export const quietLogger = (): AdmissionLogger & { errors: string[] } => {
  const errors: string[] = [];
  return {
    info: () => undefined,
    warn: () => undefined,
    error: (_f, message) => errors.push(message),
    errors,
  };
};

/** A counter source that serves fixed totals and counts how often it was asked. */
export class FakeSource implements CounterSource {
  loads = 0;
  constructor(
    public totals: PeriodTotals = emptyTotals(),
    private readonly delayMs = 0,
  ) {}
  async load(): Promise<PeriodTotals> {
    this.loads += 1;
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return structuredClone(this.totals);
  }
}

export function admission(
  redis: Redis,
  overrides: Partial<ConstructorParameters<typeof Admission>[0]> = {},
): Admission {
  return new Admission({ redis, source: new FakeSource(), logger: quietLogger(), ...overrides });
}

export const PERIOD: PeriodId = periodOf(new Date());

/** A tenant of its own per test, so tests share a Redis db without sharing counters. */
export function tenant(): { tenantId: string; keyId: string; userId: string } {
  return { tenantId: newId("tenant", 12), keyId: newId("key", 12), userId: newId("user", 12) };
}

export function request(
  who: { tenantId: string; keyId: string; userId: string | null },
  cost: { micros: number; tokens: number },
  limits: Partial<AdmissionLimits> = {},
): ReserveInput {
  return {
    reservationId: newId("reservation"),
    ...who,
    period: PERIOD,
    cost,
    limits: { ...NO_LIMITS, ...limits },
  };
}

/** The settlement of a reservation (releasing its hold), or of a request that never held anything. */
export function settlement(
  reserved: Reservation | ReserveInput,
  billedMicros: number,
  tokens: number,
  extra: Partial<SettleRequest> = {},
): SettleRequest {
  const held = "hold" in reserved;
  return {
    reservationId: held ? reserved.id : reserved.reservationId,
    hold: held ? reserved.hold : null,
    tenantId: reserved.tenantId,
    keyId: reserved.keyId,
    userId: reserved.userId,
    period: reserved.period,
    billedMicros,
    tokens,
    refundable: false,
    ...extra,
  };
}

export const counters = (redis: Redis, tenantId: string, period: PeriodId = PERIOD) =>
  readPeriodCounters(redis, tenantId, period);

/** Resolves to the thrown error's code, or "admitted". */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "admitted";
  } catch (error) {
    return error instanceof Error && "code" in error ? String(error.code) : "thrown";
  }
}

/**
 * What a limiter hash (`rate:tenant`, `rate:key:<id>`) counts over its current and previous minute together:
 * a request stays in the minute it was admitted in, so a test that crosses a minute boundary sees it move from
 * the current window's count to the previous one's; the sum does not move. Tests use fresh tenants and keys,
 * so nothing older is in either window.
 */
export async function windowTotals(
  redis: Redis,
  limiterKey: string,
): Promise<{ requests: number; tokens: number }> {
  const [rc, rp, tc, tp] = (await redis.hmget(limiterKey, "rc", "rp", "tc", "tp")).map(Number);
  return { requests: (rc ?? 0) + (rp ?? 0), tokens: (tc ?? 0) + (tp ?? 0) };
}
