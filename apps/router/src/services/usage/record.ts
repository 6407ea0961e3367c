import {
  type Deployment,
  type KeyRecord,
  type ModelCatalogEntry,
  newId,
  type PeriodId,
  priceUsage,
  randomHex,
  type Span,
  type UsageEventInput,
} from "@cloudfreedom/shared";
import type { NormalizedUsage, ProviderTarget } from "../../providers/types.ts";

export type Operation = "chat" | "text_completion" | "embeddings";

export interface CallRecord {
  requestId: string;
  key: KeyRecord;
  model: ModelCatalogEntry;
  deployment: Deployment | null;
  target: ProviderTarget | null;
  operation: Operation;
  stream: boolean;
  usage: NormalizedUsage;
  status: "success" | "error" | "cancelled";
  errorCode: string | null;
  startedAt: number;
  endedAt: number;
  attempts: number;
  finishReasons: string[];
  responseModel: string | null;
  traceparent: string | undefined;
  /** The admission hold this call settles, and the budget period it was admitted in. */
  reservationId: string;
  period: PeriodId;
}

/** Join the caller's W3C trace when it sent `traceparent`, else start a new trace. */
function traceIds(traceparent: string | undefined): { traceId: string; parentId: string | null } {
  const match = traceparent ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(traceparent) : null;
  return match?.[1] && match[2]
    ? { traceId: match[1], parentId: match[2] }
    : { traceId: randomHex(16), parentId: null };
}

export interface CallPrice {
  /** Provider cost and billed amount (cost + the plan's markup), micro-units. */
  cost: number;
  billed: number;
}

/** What the call cost, as settlement and the cost header need it at once. */
export function priceCall(call: Pick<CallRecord, "usage" | "model" | "key">): CallPrice {
  return priceUsage(call.usage, call.model.prices, call.key.tenant_limits.markup_pct);
}

/** The usage event for billing and the LLM span (OpenTelemetry GenAI conventions) for traces. */
export function buildCallRecord(
  call: CallRecord,
  price: CallPrice = priceCall(call),
): {
  event: UsageEventInput;
  span: Span;
  billed: number;
} {
  const { cost, billed } = price;
  const occurredAt = new Date(call.endedAt).toISOString();
  const event: UsageEventInput = {
    event_id: newId("event"),
    request_id: call.requestId,
    tenant_id: call.key.tenant_id,
    key_id: call.key.key_id,
    user_id: call.key.user_id,
    model: call.model.model_id,
    provider: call.target?.name ?? null,
    deployment: call.deployment?.id ?? null,
    reservation_id: call.reservationId,
    // The period of admission, not of the end: a call straddling midnight is billed where it was held.
    period: call.period,
    tokens: {
      input: call.usage.input,
      cached_input: call.usage.cached_input,
      cache_write: call.usage.cache_write,
      cache_write_1h: call.usage.cache_write_1h,
      output: call.usage.output,
      reasoning: call.usage.reasoning,
    },
    cost_micros: cost,
    billed_micros: billed,
    estimated: call.usage.estimated,
    status: call.status,
    error_code: call.errorCode,
    latency_ms: Math.max(0, Math.round(call.endedAt - call.startedAt)),
    stream: call.stream,
    source: "router",
    occurred_at: occurredAt,
  };
  const { traceId, parentId } = traceIds(call.traceparent);
  const operation = call.operation;
  const span: Span = {
    trace_id: traceId,
    span_id: randomHex(8),
    parent_span_id: parentId,
    name: `${operation} ${call.model.model_id}`,
    kind: "client",
    start_time: new Date(call.startedAt).toISOString(),
    end_time: occurredAt,
    status:
      call.status === "success" ? { code: "ok" } : { code: "error", message: call.errorCode ?? call.status },
    attributes: {
      "gen_ai.operation.name": operation,
      "gen_ai.provider.name": call.target?.kind ?? "unknown",
      "gen_ai.request.model": call.model.model_id,
      "gen_ai.response.model": call.responseModel ?? call.deployment?.upstream_model ?? call.model.model_id,
      "gen_ai.usage.input_tokens": call.usage.input,
      "gen_ai.usage.output_tokens": call.usage.output,
      "gen_ai.response.finish_reasons": call.finishReasons,
      "cloudfreedom.usage.cached_input_tokens": call.usage.cached_input,
      "cloudfreedom.usage.cache_write_tokens": call.usage.cache_write,
      "cloudfreedom.usage.cache_write_1h_tokens": call.usage.cache_write_1h,
      "cloudfreedom.usage.reasoning_tokens": call.usage.reasoning,
      "cloudfreedom.usage.estimated": call.usage.estimated,
      "cloudfreedom.cost_micros": cost,
      "cloudfreedom.billed_micros": billed,
      "cloudfreedom.deployment": call.deployment?.id ?? "",
      "cloudfreedom.attempts": call.attempts,
      "cloudfreedom.stream": call.stream,
      ...(call.errorCode ? { "error.type": call.errorCode } : {}),
    },
    request_id: call.requestId,
  };
  return { event, span, billed };
}
