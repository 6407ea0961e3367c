import { readQuery } from "@cloudfreedom/service-kit";
import { z } from "zod";
import { defineRoute } from "../../openapi/route.ts";
import { listAudit } from "../../services/audit/list.ts";
import { actorOf, Page } from "../common.ts";

const AuditQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(200).default(50),
  action: z
    .string()
    .regex(/^[a-z_.]+$/)
    .max(128)
    .optional(),
});
const AuditEntry = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.object({ type: z.string(), id: z.string().nullable(), label: z.string().nullable() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }).nullable(),
  outcome: z.enum(["success", "failure"]),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
});

export const listAuditRoute = defineRoute({
  method: "get",
  path: "/v1/tenant/audit-logs",
  tag: "audit",
  access: "user",
  summary: "The tenant's audit log, newest first (owners, admins)",
  query: AuditQuery,
  responses: { 200: { description: "A page of audit rows", schema: Page(AuditEntry) } },
  errors: ["forbidden"],
  handle: async (c, deps) => c.json(await listAudit(deps, actorOf(c), readQuery(c, AuditQuery))),
});
