import { AppError, type KeyRecord, tenantSlugFromHost } from "@cloudfreedom/shared";
import type { Context, MiddlewareHandler } from "hono";
import type { RouterDeps } from "../../deps.ts";
import { resolveKey } from "../../services/keys/resolve-key.ts";

declare module "hono" {
  interface ContextVariableMap {
    key: KeyRecord;
  }
}

/**
 * The tenant a request addresses: its subdomain (`<tenant>.<domain>`, set by Traefik's Host), or in
 * development `X-Tenant`. `api.<domain>` and local ports address none: the key alone decides.
 */
export function addressedTenant(c: Context, deps: RouterDeps): string | undefined {
  const fromHost = tenantSlugFromHost(c.req.header("host"), deps.env.PLATFORM_DOMAIN);
  if (fromHost) return fromHost;
  return deps.env.NODE_ENV === "production"
    ? undefined
    : c.req.header("x-tenant")?.toLowerCase() || undefined;
}

/** Authenticate a virtual key. A key is only valid on its own tenant's subdomain. */
export async function authenticateKey(
  c: Context,
  deps: RouterDeps,
  authorization: string | undefined,
): Promise<KeyRecord> {
  const key = await resolveKey(
    { cache: deps.keys, redis: deps.redis, fallback: deps.keyFallback },
    authorization,
  );
  const tenant = addressedTenant(c, deps);
  if (tenant && tenant !== key.tenant_slug) {
    throw new AppError("forbidden", `This API key does not belong to the tenant "${tenant}"`, { tenant });
  }
  c.set("tenantId", key.tenant_id);
  return key;
}

/** Virtual-key authentication for `/v1/*`: sets `key` and `tenantId`. */
export function keyAuth(deps: RouterDeps): MiddlewareHandler {
  return async (c, next) => {
    c.set("key", await authenticateKey(c, deps, c.req.header("authorization")));
    await next();
  };
}
