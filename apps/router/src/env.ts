import { serviceEnv } from "@cloudfreedom/service-kit";

export const RouterEnv = serviceEnv(4000, {});
export type RouterEnv = ReturnType<typeof RouterEnv.parse>;
