import { readJson } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { refreshSession } from "../../services/identity/refresh.ts";
import { client, Session } from "../common.ts";
import { RefreshBody } from "./schema.ts";

export const refreshRoute = defineRoute({
  method: "post",
  path: "/v1/auth/refresh",
  tag: "auth",
  access: "public",
  summary: "Trade a refresh token for a new session",
  description: "Each refresh token works once. Presenting a used one revokes every token of that login.",
  body: RefreshBody,
  responses: { 200: { description: "A new session (new refresh token)", schema: Session } },
  errors: ["unauthorized", "token_expired"],
  handle: async (c, deps) =>
    c.json(await refreshSession(deps, (await readJson(c, RefreshBody)).refresh_token, client(c, deps))),
});
