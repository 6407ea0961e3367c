import { z } from "zod";

/** Budget period id, `YYYY-MM` (calendar month, UTC unless a subscription anchor applies). */
export const PeriodId = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, { message: "must be a period like 2026-11" });
export type PeriodId = z.infer<typeof PeriodId>;

export function periodOf(at: Date): PeriodId {
  return `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** First instant of the period after `period`: when its counters stop counting. */
export function periodEnd(period: PeriodId): Date {
  const [year, month] = period.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(year, month, 1));
}

export function periodStart(period: PeriodId): Date {
  const [year, month] = period.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(year, month - 1, 1));
}
