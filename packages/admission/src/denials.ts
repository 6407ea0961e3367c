import { AppError, formatMicros, type PeriodId, periodEnd } from "@cloudfreedom/shared";
import type { AdmitReply } from "./replies.ts";

type Denial = Extract<AdmitReply, { kind: "budget" | "queries" | "rate" }>;

export interface DenialContext {
  period: PeriodId;
  /** Default: the calendar month's end. */
  periodEnd?: Date;
  /** The request's maximum cost (micro-units) and token allowance. */
  requestedMicros: number;
  requestedTokens: number;
  /** Ids of the scopes, for the details. */
  scopeIds: { tenant: string; user: string | null; key: string };
}

/** Amounts side by side, each with as many decimals as the most precise needs (at least 2), so they compare. */
function sameDecimals(micros: number[]): string[] {
  const decimals = Math.max(2, ...micros.map((m) => formatMicros(m, 0).split(".")[1]?.length ?? 0));
  return micros.map((m) => formatMicros(m, decimals));
}

/** OpenAI SDKs retry 429s unless told not to; a spent budget or query allowance will not heal in seconds. */
const NO_RETRY = { "x-should-retry": "false" };

/**
 * A denial as the AppError clients see (DESIGN.md §5): `402 budget_exceeded` with scope, limit, spent and
 * period end; `429 query_limit_exceeded`; `429 rate_limited` with `Retry-After`.
 */
export function denialError(denial: Denial, ctx: DenialContext): AppError {
  const endsAt = (ctx.periodEnd ?? periodEnd(ctx.period)).toISOString();
  if (denial.kind === "budget") {
    const scopeId =
      denial.scope === "tenant"
        ? ctx.scopeIds.tenant
        : denial.scope === "user"
          ? ctx.scopeIds.user
          : ctx.scopeIds.key;
    const whose =
      denial.scope === "tenant" ? "The tenant's" : denial.scope === "user" ? "Your user's" : "This API key's";
    const [limit, spent, reserved, requested] = sameDecimals([
      denial.limit,
      denial.spent,
      denial.reserved,
      ctx.requestedMicros,
    ]);
    return new AppError(
      "budget_exceeded",
      `${whose} budget for ${ctx.period} cannot cover this request: of ${limit}, ${spent} is spent and ` +
        `${reserved} is held by requests in flight, and this request may cost up to ${requested}. ` +
        `Shorten the prompt or lower max_tokens, raise the budget, or wait for ${endsAt}.`,
      {
        scope: denial.scope,
        scope_id: scopeId,
        limit: denial.limit,
        spent: denial.spent,
        reserved: denial.reserved,
        requested: ctx.requestedMicros,
        period: ctx.period,
        period_end: endsAt,
      },
      NO_RETRY,
    );
  }
  if (denial.kind === "queries") {
    return new AppError(
      "query_limit_exceeded",
      `The tenant's plan allows ${denial.limit} requests in ${ctx.period} and they are used; the allowance renews at ${endsAt} (or upgrade the plan).`,
      { limit: denial.limit, used: denial.used, period: ctx.period, period_end: endsAt },
      NO_RETRY,
    );
  }
  const tooLarge = denial.waitMs < 0;
  const waitMs = Math.max(1, denial.waitMs);
  const seconds = Math.ceil(waitMs / 1000);
  const unit = denial.dimension === "requests" ? "requests" : "tokens";
  const whose = denial.scope === "key" ? "this API key" : "the tenant";
  // A request larger than the whole per-minute allowance never fits, however long it waits: no Retry-After,
  // and nothing said about what remains (the limit is not used up).
  if (tooLarge)
    return new AppError(
      "rate_limited",
      `This request may use ${ctx.requestedTokens} tokens (its prompt plus max_tokens), more than the ${denial.limit} tokens per minute allowed for ${whose}, so it cannot be admitted at any time; shorten the prompt or lower max_tokens.`,
      {
        scope: denial.scope,
        limit_type: denial.dimension,
        limit: denial.limit,
        reason: "request_exceeds_limit",
        requested: ctx.requestedTokens,
      },
      { [`x-ratelimit-limit-${unit}`]: String(denial.limit), ...NO_RETRY },
    );
  return new AppError(
    "rate_limited",
    `Rate limit of ${denial.limit} ${unit} per minute reached for ${whose}; retry after ${seconds} s.`,
    { scope: denial.scope, limit_type: denial.dimension, limit: denial.limit, retry_after_ms: waitMs },
    {
      "retry-after": String(seconds),
      "retry-after-ms": String(waitMs),
      [`x-ratelimit-limit-${unit}`]: String(denial.limit),
      [`x-ratelimit-remaining-${unit}`]: "0",
    },
  );
}

export function admissionUnavailable(cause: unknown): AppError {
  const error = new AppError(
    "admission_unavailable",
    "Budgets and limits cannot be checked right now (the counter store is unreachable), so the request was not served; retry shortly.",
    {},
    { "retry-after": "1" },
  );
  error.cause = cause;
  return error;
}
