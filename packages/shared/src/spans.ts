import { z } from "zod";

const HexId = (bytes: number) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), { message: `must be ${bytes * 2} lowercase hex digits` });

export const TraceId = HexId(16);
export const SpanId = HexId(8);

export const AttributeValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.union([z.string(), z.number(), z.boolean()])),
]);

/**
 * A span in OpenTelemetry's model. LLM spans carry the GenAI semantic-convention attributes
 * (`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`, …; DESIGN.md §10).
 */
export const Span = z.object({
  trace_id: TraceId,
  span_id: SpanId,
  parent_span_id: SpanId.nullable().default(null),
  name: z.string().min(1).max(512),
  kind: z.enum(["internal", "server", "client", "producer", "consumer"]).default("internal"),
  start_time: z.iso.datetime(),
  end_time: z.iso.datetime(),
  status: z.object({ code: z.enum(["unset", "ok", "error"]), message: z.string().optional() }),
  attributes: z.record(z.string(), AttributeValue).default({}),
  session_id: z.string().min(1).optional(),
  request_id: z.string().min(1).optional(),
});
export type Span = z.infer<typeof Span>;

export const MAX_SPANS_PER_BATCH = 1000;

export const SpanBatch = z.object({
  batch_id: z.string().min(1),
  tenant_id: z.string().min(1),
  workspace_id: z.string().min(1).optional(),
  source: z.enum(["router", "api", "otlp"]),
  spans: z.array(Span).min(1).max(MAX_SPANS_PER_BATCH),
});
export type SpanBatch = z.infer<typeof SpanBatch>;
