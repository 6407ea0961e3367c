import type { Logger } from "@cloudfreedom/service-kit";
import type { BillingMaintenanceJob, UsageEvent } from "@cloudfreedom/shared";

export function logUsageEvent(logger: Logger, event: UsageEvent): void {
  logger.info(
    {
      event_id: event.event_id,
      request_id: event.request_id,
      tenant: event.tenant_id,
      billed_micros: event.billed_micros,
    },
    "usage event received",
  );
}

export function logBillingMaintenance(logger: Logger, job: BillingMaintenanceJob): void {
  logger.info({ kind: job.kind }, "billing maintenance job received");
}
