import { readJson } from "@cloudfreedom/service-kit";
import { z } from "zod";
import { defineRoute } from "../../openapi/route.ts";
import { currentTenant, updateTenant } from "../../services/tenants/manage.ts";
import { actorOf, client, Role, TenantView } from "../common.ts";

const CurrentTenant = TenantView.extend({
  plan: z
    .object({
      id: z.string(),
      slug: z.string(),
      name: z.string(),
      tier: z.string(),
      max_users: z.number().nullable(),
    })
    .nullable(),
  members: z.number(),
  role: Role,
});
const UpdateTenantBody = z
  .object({ name: z.string().trim().min(1).max(255).optional(), slug: z.string().min(1).max(63).optional() })
  .refine((body) => body.name !== undefined || body.slug !== undefined, { message: "send name or slug" });

export const getTenantRoute = defineRoute({
  method: "get",
  path: "/v1/tenant",
  tag: "tenants",
  access: "user",
  summary: "The tenant of the access token",
  responses: { 200: { description: "The tenant", schema: CurrentTenant } },
  handle: async (c, deps) => c.json(await currentTenant(deps, actorOf(c))),
});

export const updateTenantRoute = defineRoute({
  method: "patch",
  path: "/v1/tenant",
  tag: "tenants",
  access: "user",
  summary: "Rename the tenant (owner, admin) or change its slug = subdomain (owner)",
  description:
    "The slug is a DNS label; api, auth, billing, admin, www, traces, analytics, pb, app, mail and a few more are reserved.",
  body: UpdateTenantBody,
  responses: { 200: { description: "The tenant", schema: TenantView } },
  errors: ["forbidden", "conflict"],
  handle: async (c, deps) =>
    c.json(await updateTenant(deps, actorOf(c), await readJson(c, UpdateTenantBody), client(c, deps))),
});
