import type { Logger } from "@cloudfreedom/service-kit";
import type { AnalyticsJob } from "@cloudfreedom/shared";

export function logAnalyticsJob(logger: Logger, job: AnalyticsJob): void {
  const records = job.kind === "usage" ? job.events.length : job.spans.length;
  logger.info({ kind: job.kind, records }, "analytics job received");
}
