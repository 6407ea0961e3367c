import { serviceEnv } from "@cloudfreedom/service-kit";

export const AnalyticsEnv = serviceEnv(4400, {});
export type AnalyticsEnv = ReturnType<typeof AnalyticsEnv.parse>;
