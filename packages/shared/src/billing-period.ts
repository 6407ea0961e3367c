import { type PeriodId, periodEnd, periodOf, periodStart } from "./period.ts";

/**
 * Budget periods with a subscription anchor (DESIGN.md §6): a period runs from the anchor day of one month
 * (00:00 UTC) to the anchor day of the next and is named after the month it starts in. Without an anchor, or
 * with anchor day 1, periods are calendar months. An anchor past a month's last day falls on that last day
 * (anchor 31 → 28 or 29 February), as Stripe's billing cycle anchors do.
 */
export interface PeriodBounds {
  period: PeriodId;
  start: Date;
  end: Date;
}

/** The anchor day (1..31, UTC) of a subscription whose current period started at `start`; null without one. */
export function anchorDayOf(start: Date | null): number | null {
  if (start === null || Number.isNaN(start.getTime())) return null;
  return start.getUTCDate();
}

function anchorIn(year: number, monthIndex: number, anchorDay: number): Date {
  const lastDay = new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, monthIndex, Math.min(anchorDay, lastDay)));
}

function validAnchor(anchorDay: number | null): anchorDay is number {
  return anchorDay !== null && Number.isInteger(anchorDay) && anchorDay > 1 && anchorDay <= 31;
}

/** Start and end of the period named `period`. */
export function periodBounds(period: PeriodId, anchorDay: number | null = null): PeriodBounds {
  if (!validAnchor(anchorDay)) return { period, start: periodStart(period), end: periodEnd(period) };
  const start = periodStart(period);
  const year = start.getUTCFullYear();
  const month = start.getUTCMonth();
  return { period, start: anchorIn(year, month, anchorDay), end: anchorIn(year, month + 1, anchorDay) };
}

/** The period `at` falls in. */
export function billingPeriodOf(at: Date, anchorDay: number | null = null): PeriodBounds {
  if (!validAnchor(anchorDay)) return periodBounds(periodOf(at), null);
  const thisMonth = periodBounds(periodOf(at), anchorDay);
  if (at >= thisMonth.start) return thisMonth;
  const previous = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1));
  return periodBounds(periodOf(previous), anchorDay);
}

/** The period before `period` (by name: `2026-01` → `2025-12`). */
export function previousPeriod(period: PeriodId): PeriodId {
  const start = periodStart(period);
  return periodOf(new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() - 1, 1)));
}
