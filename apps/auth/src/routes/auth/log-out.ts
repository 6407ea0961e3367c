import { readJson } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { revokeRefreshToken } from "../../services/tokens/refresh-tokens.ts";
import { RefreshBody } from "./schema.ts";

export const logOutRoute = defineRoute({
  method: "post",
  path: "/v1/auth/logout",
  tag: "auth",
  access: "public",
  summary: "Revoke a refresh token and every token rotated from the same login",
  body: RefreshBody,
  responses: { 204: { description: "Logged out (also for an unknown token)" } },
  handle: async (c, deps) => {
    await revokeRefreshToken(deps, (await readJson(c, RefreshBody)).refresh_token);
    return c.body(null, 204);
  },
});
