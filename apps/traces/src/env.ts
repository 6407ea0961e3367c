import { serviceEnv } from "@cloudfreedom/service-kit";

export const TracesEnv = serviceEnv(4300, {});
export type TracesEnv = ReturnType<typeof TracesEnv.parse>;
