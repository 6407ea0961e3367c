import type { Logger } from "./logger.ts";

/** Verified access-token claims (auth service issues them; DESIGN.md §2). */
export interface AuthClaims {
  sub: string;
  tenant: string;
  role: string;
  tier: string;
  [claim: string]: unknown;
}

/** Per-request values every service has, typed on every Hono context through module augmentation. */
export interface ServiceVariables {
  requestId: string;
  logger: Logger;
  tenantId: string | undefined;
  auth: AuthClaims | undefined;
}

declare module "hono" {
  interface ContextVariableMap extends ServiceVariables {}
}
