import type { CreateOf, UsageLogRow } from "@cloudfreedom/db";
import type { UsageEvent } from "@cloudfreedom/shared";

export type UsageLogWrite = CreateOf<"usage_logs"> & { tenant: string; event_id: string };

/** A usage event as its `usage_logs` row (PocketBase encoding: "" for none). */
export function usageLogRow(event: UsageEvent): UsageLogWrite {
  return {
    tenant: event.tenant_id,
    event_id: event.event_id,
    request_id: event.request_id,
    reservation_id: event.reservation_id ?? "",
    source: event.source,
    api_key: event.key_id ?? "",
    user: event.user_id ?? "",
    model: event.model,
    provider: event.provider ?? "",
    deployment: event.deployment ?? "",
    input_tokens: event.tokens.input,
    cached_input_tokens: event.tokens.cached_input,
    cache_write_tokens: event.tokens.cache_write,
    output_tokens: event.tokens.output,
    reasoning_tokens: event.tokens.reasoning,
    cost_micros: event.cost_micros,
    billed_micros: event.billed_micros,
    latency_ms: event.latency_ms,
    status: event.status,
    error_code: event.error_code ?? "",
    estimated: event.estimated,
    stream: event.stream,
    period: event.period,
    occurred_at: event.occurred_at,
    metadata: event.metadata ?? null,
  };
}

/** What `GET /v1/usage` shows of a stored row. */
export interface UsageLogView {
  id: string;
  event_id: string;
  request_id: string;
  occurred_at: string;
  period: string;
  source: string;
  model: string;
  provider: string | null;
  key_id: string | null;
  user_id: string | null;
  status: string;
  error_code: string | null;
  tokens: { input: number; cached_input: number; cache_write: number; output: number; reasoning: number };
  cost_micros: number;
  billed_micros: number;
  latency_ms: number;
  stream: boolean;
  estimated: boolean;
}

const orNull = (value: string): string | null => (value === "" ? null : value);

export function usageLogView(row: UsageLogRow): UsageLogView {
  return {
    id: row.id,
    event_id: row.event_id,
    request_id: row.request_id,
    occurred_at: new Date(row.occurred_at.replace(" ", "T")).toISOString(),
    period: row.period,
    source: row.source,
    model: row.model,
    provider: orNull(row.provider),
    key_id: orNull(row.api_key),
    user_id: orNull(row.user),
    status: row.status,
    error_code: orNull(row.error_code),
    tokens: {
      input: row.input_tokens,
      cached_input: row.cached_input_tokens,
      cache_write: row.cache_write_tokens,
      output: row.output_tokens,
      reasoning: row.reasoning_tokens,
    },
    cost_micros: row.cost_micros,
    billed_micros: row.billed_micros,
    latency_ms: row.latency_ms,
    stream: row.stream,
    estimated: row.estimated,
  };
}
