import { readJson } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { switchTenant } from "../../services/tenants/manage.ts";
import { actorOf, client, Session } from "../common.ts";
import { SwitchTenantBody } from "./schema.ts";

export const switchTenantRoute = defineRoute({
  method: "post",
  path: "/v1/auth/switch-tenant",
  tag: "auth",
  access: "user",
  summary: "A session in another tenant you belong to (id or slug)",
  body: SwitchTenantBody,
  responses: { 200: { description: "A session in that tenant", schema: Session } },
  errors: ["forbidden"],
  handle: async (c, deps) =>
    c.json(
      await switchTenant(deps, actorOf(c), (await readJson(c, SwitchTenantBody)).tenant, client(c, deps)),
    ),
});
