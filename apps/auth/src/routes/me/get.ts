import { Tier } from "@cloudfreedom/shared";
import { z } from "zod";
import { defineRoute } from "../../openapi/route.ts";
import { me } from "../../services/identity/account.ts";
import { actorOf, Role, TenantView, UserView } from "../common.ts";

const TenantWithRole = TenantView.extend({ role: Role });
export const Me = z.object({
  user: UserView,
  tenant: TenantWithRole.nullable(),
  role: Role,
  tier: Tier,
  tenants: z.array(TenantWithRole),
});

export const meRoute = defineRoute({
  method: "get",
  path: "/v1/me",
  tag: "account",
  access: "user",
  summary: "The current user, tenant, role and tier, and every tenant the user belongs to",
  responses: { 200: { description: "The caller", schema: Me } },
  handle: async (c, deps) => c.json(await me(deps, actorOf(c))),
});
