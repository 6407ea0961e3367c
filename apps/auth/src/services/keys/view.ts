import type { ApiKeyRow } from "@cloudfreedom/db";
import { pbDateToMs, tenantRowNotFound } from "@cloudfreedom/db";
import type { AuthDeps } from "../../deps.ts";
import { type Actor, isManager } from "../members/roles.ts";

const orNull = (value: string) => (value === "" ? null : value);
const limit = (value: number) => (value === 0 ? null : value);

export function keyStatus(row: ApiKeyRow, now = Date.now()): "active" | "grace" | "expired" | "revoked" {
  if (row.revoked_at) return "revoked";
  const expires = pbDateToMs(row.expires_at);
  const grace = pbDateToMs(row.grace_until);
  if ((expires !== null && expires <= now) || (grace !== null && grace <= now)) return "expired";
  return grace !== null ? "grace" : "active";
}

/** What the API shows of a key: never the secret or its hash. */
export function keyView(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    user_id: orNull(row.user),
    scopes: row.scopes,
    models: row.allowed_models,
    rpm: limit(row.rpm),
    tpm: limit(row.tpm),
    budget_micros: limit(row.budget_micros),
    expires_at: orNull(row.expires_at),
    grace_until: orNull(row.grace_until),
    revoked_at: orNull(row.revoked_at),
    last_used_at: orNull(row.last_used_at),
    rotated_from: orNull(row.rotated_from),
    status: keyStatus(row),
    created: row.created,
    updated: row.updated,
  };
}
export type KeyView = ReturnType<typeof keyView>;

/**
 * A key the actor may manage: any of the tenant's for owners and admins, only their own for members. Another
 * tenant's key and another member's key answer `not_found`, exactly like a missing one.
 */
export async function managedKey(deps: AuthDeps, actor: Actor, id: string): Promise<ApiKeyRow> {
  const row = await deps.db.forTenant(actor.tenantId).collection("api_keys").getOne(id);
  if (!isManager(actor) && row.user !== actor.userId) {
    throw tenantRowNotFound("api_keys", id);
  }
  return row;
}
