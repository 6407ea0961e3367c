import { limitsOf, maxCost, outputAllowance, type Reservation } from "@cloudfreedom/admission";
import {
  billingPeriodOf,
  isAppError,
  type KeyRecord,
  type ModelCatalogEntry,
  newId,
} from "@cloudfreedom/shared";
import type { RouterDeps } from "../../deps.ts";
import { type CacheTtl, cacheWriteTtl } from "../../openai/cache-control.ts";
import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../openai/requests.ts";
import type { BudgetRefusal } from "../events/settler.ts";
import { chatPromptText, inputText, inputTokens } from "../usage/estimate.ts";

/** The most a request may use: its prompt estimate and its output allowance, in tokens. */
export interface MaxUsage {
  promptTokens: number;
  outputTokens: number;
  /** Set when prompt-cache breakpoints may get the prompt billed as cache writes ("1h" when one asks for it). */
  cacheWrite?: CacheTtl | null;
}

/**
 * Prompt tokens estimated without a tokenizer (the hot path loads no BPE tables): UTF-8 bytes / 2, above
 * what o200k counts for prose (≈ 4.5 bytes per token), code (≈ 3.4), JSON and numbers (≈ 2.2), CJK (≈ 6)
 * and emoji (≈ 2.6); only random strings (base64, hex: ≈ 1.5) tokenize worse. Plus a few tokens of framing
 * per message. The hold is an upper estimate; settlement charges the provider's real counts.
 */
export const BYTES_PER_TOKEN_ESTIMATE = 2;
const PER_MESSAGE_TOKENS = 4;
/** An image costs at most about this many input tokens at the providers' largest sizes. */
const PER_IMAGE_TOKENS = 1_600;

export function estimateTextTokens(text: string): number {
  return text ? Math.ceil(Buffer.byteLength(text, "utf8") / BYTES_PER_TOKEN_ESTIMATE) : 0;
}

export function chatMaxUsage(body: ChatCompletionRequest, model: ModelCatalogEntry): MaxUsage {
  let images = 0;
  for (const message of body.messages) {
    if (Array.isArray(message.content))
      for (const part of message.content) if (part.type !== "text") images += 1;
  }
  return {
    promptTokens:
      estimateTextTokens(chatPromptText(body)) +
      body.messages.length * PER_MESSAGE_TOKENS +
      images * PER_IMAGE_TOKENS,
    outputTokens: outputAllowance(
      body.max_completion_tokens ?? body.max_tokens,
      model.max_output_tokens,
      body.n ?? 1,
    ),
    cacheWrite: cacheWriteTtl(body),
  };
}

export function completionMaxUsage(body: CompletionRequest, model: ModelCatalogEntry): MaxUsage {
  const prompts = Array.isArray(body.prompt) ? body.prompt.length : 1;
  return {
    promptTokens: estimateTextTokens(inputText(body.prompt)) + prompts * PER_MESSAGE_TOKENS,
    // `best_of` candidates are generated (and billed) server-side, of which `n` are returned.
    outputTokens: outputAllowance(
      body.max_tokens,
      model.max_output_tokens,
      Math.max(body.n ?? 1, body.best_of ?? 1) * prompts,
    ),
  };
}

export function embeddingMaxUsage(body: EmbeddingRequest): MaxUsage {
  return { promptTokens: inputTokens(body.input, estimateTextTokens), outputTokens: 0 };
}

/**
 * Admission for one call (DESIGN.md §5 step 3): one Redis script run that checks the key's and tenant's
 * RPM/TPM, the tenant's query limit and every budget scope, and holds the call's maximum cost until it
 * settles; far from the limits, a hold taken ahead by that same script (`HoldPrefetcher`), without a round
 * trip. Throws the denial (402/429) or 503 when the counters are unreachable and fail-open is off.
 */
export async function reserveForCall(
  deps: RouterDeps,
  key: KeyRecord,
  model: ModelCatalogEntry,
  usage: MaxUsage,
): Promise<Reservation> {
  const period = billingPeriodOf(new Date(), key.tenant_limits.period_anchor_day ?? null);
  const input = {
    reservationId: newId("reservation"),
    tenantId: key.tenant_id,
    keyId: key.key_id,
    userId: key.user_id,
    period: period.period,
    periodEnd: period.end,
    cost: maxCost({
      promptTokens: usage.promptTokens,
      outputTokens: usage.outputTokens,
      prices: model.prices,
      markupPct: key.tenant_limits.markup_pct,
      cacheWrite: usage.cacheWrite,
    }),
    limits: limitsOf(key),
  };
  try {
    return await deps.holds.reserve(input);
  } catch (error) {
    // This router settles finished calls in batches (EVENT_FLUSH_MS): until then their whole holds count as
    // in flight. A budget refusal that the refused scope's waiting calls would lift settles them now and asks
    // once more, so calls that come one after another are refused for what they cost, not for their holds.
    const refusal = budgetRefusal(error, key.tenant_id);
    if (!refusal || !(await deps.settler.settleForRefusal(refusal, SETTLE_ON_REFUSAL_MS))) throw error;
    let second: Reservation;
    try {
      second = await deps.holds.reserve({ ...input, reservationId: newId("reservation") });
    } catch (retryError) {
      throw isAppError(retryError) && retryError.code === "budget_exceeded" ? retryError : error;
    }
    // Admitted without the counters (BUDGET_FAIL_OPEN while Redis failed): the refusal stands.
    if (!second.held) throw error;
    return second;
  }
}

/** How long a refused request waits for the settling it asked for before its refusal stands. */
const SETTLE_ON_REFUSAL_MS = 250;

/** A `budget_exceeded` refusal's scope and shortfall, from its details; null for any other error. */
function budgetRefusal(error: unknown, tenantId: string): BudgetRefusal | null {
  if (!isAppError(error) || error.code !== "budget_exceeded") return null;
  const d = error.details as Record<string, unknown> | undefined;
  const scope = d?.scope;
  const [limit, spent, reserved, requested] = [d?.limit, d?.spent, d?.reserved, d?.requested].map(Number);
  if (scope !== "tenant" && scope !== "user" && scope !== "key") return null;
  if (![limit, spent, reserved, requested].every(Number.isFinite)) return null;
  return {
    tenantId,
    scope,
    scopeId: typeof d?.scope_id === "string" ? d.scope_id : null,
    shortfallMicros: (spent ?? 0) + (reserved ?? 0) + (requested ?? 0) - (limit ?? 0),
  };
}

/** What the client may still do: OpenAI-style rate-limit headers and the tightest budget's remainder. */
export function admissionHeaders(reservation: Reservation): Record<string, string> {
  const headers: Record<string, string> = {};
  const rate = reservation.rate;
  if (rate?.limitRequests != null && rate.remainingRequests != null) {
    headers["x-ratelimit-limit-requests"] = String(rate.limitRequests);
    headers["x-ratelimit-remaining-requests"] = String(rate.remainingRequests);
  }
  if (rate?.limitTokens != null && rate.remainingTokens != null) {
    headers["x-ratelimit-limit-tokens"] = String(rate.limitTokens);
    headers["x-ratelimit-remaining-tokens"] = String(rate.remainingTokens);
  }
  if (reservation.budgetRemaining !== null)
    headers["x-cloudfreedom-budget-remaining-micros"] = String(reservation.budgetRemaining);
  return headers;
}
