import { readJson } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { listOAuth2Providers, logInWithOAuth2 } from "../../services/identity/oauth2.ts";
import { client, Session } from "../common.ts";
import { OAuth2Body, OAuth2Providers } from "./schema.ts";

export const oauth2ProvidersRoute = defineRoute({
  method: "get",
  path: "/v1/auth/oauth2/providers",
  tag: "auth",
  access: "public",
  summary: "OAuth2 providers configured in PocketBase, with authorization URL, state and PKCE verifier",
  responses: { 200: { description: "Providers (empty when none is configured)", schema: OAuth2Providers } },
  handle: async (c, deps) => c.json(await listOAuth2Providers(deps)),
});

export const oauth2LogInRoute = defineRoute({
  method: "post",
  path: "/v1/auth/oauth2",
  tag: "auth",
  access: "public",
  summary: "Complete an OAuth2 login with the provider's code (PocketBase exchanges it)",
  body: OAuth2Body,
  responses: { 200: { description: "A session", schema: Session } },
  errors: ["invalid_credentials", "validation_failed"],
  handle: async (c, deps) =>
    c.json(await logInWithOAuth2(deps, await readJson(c, OAuth2Body), client(c, deps))),
});
