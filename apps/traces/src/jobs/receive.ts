import type { Logger } from "@cloudfreedom/service-kit";
import type { SpanBatch } from "@cloudfreedom/shared";

export function logSpanBatch(logger: Logger, batch: SpanBatch): void {
  logger.info(
    { batch_id: batch.batch_id, tenant: batch.tenant_id, spans: batch.spans.length },
    "span batch received",
  );
}
