import { readJson } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { signUp } from "../../services/identity/sign-up.ts";
import { client, Session } from "../common.ts";
import { SignUpBody } from "./schema.ts";

export const signUpRoute = defineRoute({
  method: "post",
  path: "/v1/auth/signup",
  tag: "auth",
  access: "public",
  summary: "Create an account (and a personal tenant on the free plan, or join a tenant with an invitation)",
  body: SignUpBody,
  responses: { 201: { description: "The new session", schema: Session } },
  errors: ["conflict", "not_found", "forbidden", "too_many_attempts"],
  handle: async (c, deps) => c.json(await signUp(deps, await readJson(c, SignUpBody), client(c, deps)), 201),
});
