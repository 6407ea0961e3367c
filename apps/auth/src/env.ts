import { serviceEnv } from "@cloudfreedom/service-kit";

export const AuthEnv = serviceEnv(4100, {});
export type AuthEnv = ReturnType<typeof AuthEnv.parse>;
