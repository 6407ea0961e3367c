import { serviceEnv } from "@cloudfreedom/service-kit";

export const BillingEnv = serviceEnv(4200, {});
export type BillingEnv = ReturnType<typeof BillingEnv.parse>;
