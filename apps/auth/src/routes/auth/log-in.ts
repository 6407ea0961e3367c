import { readJson } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { logIn } from "../../services/identity/log-in.ts";
import { client, Session } from "../common.ts";
import { LogInBody } from "./schema.ts";

export const logInRoute = defineRoute({
  method: "post",
  path: "/v1/auth/login",
  tag: "auth",
  access: "public",
  summary: "Log in with e-mail and password",
  description:
    "Rate limited per IP and per account (failures). Returns a 15-minute ES256 access token and a refresh token.",
  body: LogInBody,
  responses: { 200: { description: "A session", schema: Session } },
  errors: ["invalid_credentials", "too_many_attempts", "forbidden"],
  handle: async (c, deps) => c.json(await logIn(deps, await readJson(c, LogInBody), client(c, deps))),
});
