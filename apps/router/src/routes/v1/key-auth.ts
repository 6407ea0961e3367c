import type { KeyRecord } from "@cloudfreedom/shared";
import type { MiddlewareHandler } from "hono";
import type { RouterDeps } from "../../deps.ts";
import { resolveKey } from "../../services/keys/resolve-key.ts";

declare module "hono" {
  interface ContextVariableMap {
    key: KeyRecord;
  }
}

/** Virtual-key authentication for `/v1/*`: sets `key` and `tenantId`. */
export function keyAuth(deps: RouterDeps): MiddlewareHandler {
  return async (c, next) => {
    const key = await resolveKey(
      { cache: deps.keys, redis: deps.redis, fallback: deps.keyFallback },
      c.req.header("authorization"),
    );
    c.set("key", key);
    c.set("tenantId", key.tenant_id);
    await next();
  };
}
