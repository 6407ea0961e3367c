import { SpanBatch } from "../spans.ts";

/** Queue `traces`: router and traces API produce span batches, the traces worker persists them. */
export const tracesQueue = { name: "traces", payload: SpanBatch } as const;
