import { readJson, readParams } from "@cloudfreedom/service-kit";
import { z } from "zod";
import { defineRoute } from "../../openapi/route.ts";
import { acceptInvitation } from "../../services/invitations/accept.ts";
import { createInvitation, listInvitations, revokeInvitation } from "../../services/invitations/manage.ts";
import { actorOf, client, Email, IdParam, Role, Session } from "../common.ts";

const Invitation = z.object({
  id: z.string(),
  email: z.string(),
  role: Role,
  state: z.enum(["pending", "accepted", "revoked", "expired"]),
  invited_by: z.string().nullable(),
  expires_at: z.string(),
  accepted_at: z.string().nullable(),
  created: z.string(),
});
const CreateInvitationBody = z.object({ email: Email, role: Role.default("member") });
const AcceptBody = z.object({ token: z.string().min(1).max(128) });

export const createInvitationRoute = defineRoute({
  method: "post",
  path: "/v1/tenant/invitations",
  tag: "members",
  access: "user",
  summary:
    "Invite an e-mail address (owners, admins). The token is shown once; send the accept_url to the invitee.",
  description: "The plan's max_users counts members and pending invitations.",
  body: CreateInvitationBody,
  responses: {
    201: {
      description: "Invitation",
      schema: z.object({ invitation: Invitation, token: z.string(), accept_url: z.string() }),
    },
  },
  errors: ["forbidden", "conflict"],
  handle: async (c, deps) =>
    c.json(
      await createInvitation(deps, actorOf(c), await readJson(c, CreateInvitationBody), client(c, deps)),
      201,
    ),
});

export const listInvitationsRoute = defineRoute({
  method: "get",
  path: "/v1/tenant/invitations",
  tag: "members",
  access: "user",
  summary: "Invitations of the tenant (owners, admins)",
  responses: { 200: { description: "Invitations", schema: z.object({ items: z.array(Invitation) }) } },
  errors: ["forbidden"],
  handle: async (c, deps) => c.json(await listInvitations(deps, actorOf(c))),
});

export const revokeInvitationRoute = defineRoute({
  method: "delete",
  path: "/v1/tenant/invitations/:id",
  tag: "members",
  access: "user",
  summary: "Revoke a pending invitation (owners, admins)",
  params: IdParam,
  responses: { 200: { description: "The invitation", schema: Invitation } },
  errors: ["forbidden", "not_found", "conflict"],
  handle: async (c, deps) =>
    c.json(await revokeInvitation(deps, actorOf(c), readParams(c, IdParam).id, client(c, deps))),
});

export const acceptInvitationRoute = defineRoute({
  method: "post",
  path: "/v1/invitations/accept",
  tag: "members",
  access: "user",
  summary: "Accept an invitation sent to your e-mail; answers a session in the new tenant",
  description: "New users accept at sign-up instead (invitation_token).",
  body: AcceptBody,
  responses: { 200: { description: "A session in the tenant", schema: Session } },
  errors: ["not_found", "forbidden", "conflict"],
  handle: async (c, deps) =>
    c.json(
      await acceptInvitation(deps, actorOf(c).userId, (await readJson(c, AcceptBody)).token, client(c, deps)),
    ),
});
