import { AppError, INTERNAL_TOKEN_HEADER } from "@cloudfreedom/shared";
import type { MiddlewareHandler } from "hono";
import type { AuthDeps } from "../deps.ts";
import { secretsEqual } from "../services/tokens/secrets.ts";

/** Service-to-service routes: `x-internal-token` must equal INTERNAL_TOKEN (constant time); refused when unset. */
export function requireInternal(deps: AuthDeps): MiddlewareHandler {
  return async (c, next) => {
    const expected = deps.env.INTERNAL_TOKEN;
    if (!expected) throw new AppError("forbidden", "Internal routes are disabled: INTERNAL_TOKEN is not set");
    const given = c.req.header(INTERNAL_TOKEN_HEADER) ?? "";
    if (!secretsEqual(given, expected))
      throw new AppError("unauthorized", `Missing or wrong ${INTERNAL_TOKEN_HEADER}`);
    await next();
  };
}
