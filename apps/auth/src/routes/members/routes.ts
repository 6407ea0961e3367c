import { readJson, readParams } from "@cloudfreedom/service-kit";
import { z } from "zod";
import { defineRoute } from "../../openapi/route.ts";
import { changeRole, listMembers, removeMember } from "../../services/members/manage.ts";
import { actorOf, client, Role, UserIdParam } from "../common.ts";

const Member = z.object({
  user_id: z.string(),
  email: z.string(),
  name: z.string(),
  role: Role,
  joined: z.string(),
});
const ChangeRoleBody = z.object({ role: Role });

export const listMembersRoute = defineRoute({
  method: "get",
  path: "/v1/tenant/members",
  tag: "members",
  access: "user",
  summary: "Members of the tenant with their roles",
  responses: { 200: { description: "Members", schema: z.object({ items: z.array(Member) }) } },
  handle: async (c, deps) => c.json(await listMembers(deps, actorOf(c))),
});

export const changeRoleRoute = defineRoute({
  method: "patch",
  path: "/v1/tenant/members/:user_id",
  tag: "members",
  access: "user",
  summary: "Change a member's role (owners: any; admins: member/admin only). The last owner stays owner.",
  params: UserIdParam,
  body: ChangeRoleBody,
  responses: { 200: { description: "The new role", schema: z.object({ user_id: z.string(), role: Role }) } },
  errors: ["forbidden", "not_found", "conflict"],
  handle: async (c, deps) => {
    const { user_id } = readParams(c, UserIdParam);
    return c.json(
      await changeRole(deps, actorOf(c), user_id, (await readJson(c, ChangeRoleBody)).role, client(c, deps)),
    );
  },
});

export const removeMemberRoute = defineRoute({
  method: "delete",
  path: "/v1/tenant/members/:user_id",
  tag: "members",
  access: "user",
  summary:
    "Remove a member, or leave (your own id). Their keys and sessions in the tenant are revoked; the last owner cannot go.",
  params: UserIdParam,
  responses: { 204: { description: "Removed" } },
  errors: ["forbidden", "not_found", "conflict"],
  handle: async (c, deps) => {
    await removeMember(deps, actorOf(c), readParams(c, UserIdParam).user_id, client(c, deps));
    return c.body(null, 204);
  },
});
