import { Tier } from "@cloudfreedom/shared";
import type { Context } from "hono";
import { z } from "zod";
import type { AuthDeps, ClientInfo } from "../deps.ts";
import { clientInfo } from "../http/client-info.ts";
import type { Actor } from "../services/members/roles.ts";

export const Role = z.enum(["owner", "admin", "member"]);
export const IdParam = z.object({
  id: z.string().regex(/^[a-z0-9_]{3,64}$/, { message: "must be a record id" }),
});
export const UserIdParam = z.object({
  user_id: z.string().regex(/^[a-z0-9_]{3,64}$/, { message: "must be a user id" }),
});
export const Email = z.email({ message: "must be an e-mail address" }).max(255);
/** bcrypt (PocketBase) reads 72 bytes at most. */
export const Password = z.string().min(10, { message: "must be at least 10 characters" }).max(72);

export const UserView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  verified: z.boolean(),
  created: z.string(),
});
export const TenantView = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  tier: Tier,
  status: z.string(),
  plan: z.string().nullable(),
});
export const Session = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
  refresh_token: z.string(),
  refresh_expires_in: z.number().int(),
  user: UserView,
  tenant: TenantView,
  role: Role,
});

export const Page = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    page: z.number(),
    per_page: z.number(),
    total: z.number(),
    total_pages: z.number(),
  });

export const client = (c: Context, deps: AuthDeps): ClientInfo => clientInfo(c, deps.env.TRUSTED_PROXY_HOPS);

export function actorOf(c: Context): Actor {
  return c.get("actor");
}
