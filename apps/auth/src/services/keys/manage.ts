import { toPbDate } from "@cloudfreedom/db";
import { DEAD_KEY_RETENTION_MS, publishKey } from "@cloudfreedom/keyring";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { type Actor, isManager } from "../members/roles.ts";
import { withKeyLock } from "./key-lock.ts";
import type { ListKeysQuery, UpdateKeyBody } from "./schema.ts";
import { assertScopesAllowed, isManagerScope, settingsToRow } from "./settings.ts";
import { keyView, managedKey } from "./view.ts";

export async function listKeys(deps: AuthDeps, actor: Actor, query: ListKeysQuery) {
  const filters: string[] = [];
  const params: Record<string, unknown> = {};
  const user = isManager(actor) ? query.user_id : actor.userId;
  if (user !== undefined) {
    filters.push("user = {:user}");
    params.user = user;
  }
  if (!query.include_revoked) filters.push("revoked_at = ''");
  const page = await deps.db
    .forTenant(actor.tenantId)
    .collection("api_keys")
    .list({
      page: query.page,
      perPage: query.per_page,
      sort: "-created,-id",
      filter: filters.join(" && "),
      params,
    });
  return {
    items: page.items.map(keyView),
    page: page.page,
    per_page: page.perPage,
    total: page.totalItems,
    total_pages: page.totalPages,
  };
}

export async function getKey(deps: AuthDeps, actor: Actor, id: string) {
  return keyView(await managedKey(deps, actor, id));
}

export async function updateKey(
  deps: AuthDeps,
  actor: Actor,
  id: string,
  body: UpdateKeyBody,
  client: ClientInfo,
) {
  const row = await withKeyLock(deps, id, async () => {
    const current = await managedKey(deps, actor, id);
    if (current.revoked_at)
      throw new AppError("conflict", "This key is revoked; create a new one", { key_id: id });
    assertScopesAllowed(actor, body.scopes);
    if (!isManager(actor) && (current.scopes ?? []).some(isManagerScope))
      throw new AppError("forbidden", "Only owners and admins change a key with the admin or billing scope", {
        key_id: id,
      });
    const updated = await deps.db
      .forTenant(actor.tenantId)
      .collection("api_keys")
      .update(id, settingsToRow(body));
    await publishKey({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      tenantId: actor.tenantId,
      key: updated,
    });
    return updated;
  });
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "key.update",
    target: { type: "api_key", id },
    outcome: "success",
    client,
    metadata: { fields: Object.keys(body) },
  });
  return keyView(row);
}

/**
 * Immediate: the KeyRecord in Redis says revoked and every router evicts its cached copy on the message.
 * Idempotent: revoking a revoked key answers the same and audits nothing new (its record is written again,
 * which repairs one an earlier attempt left unwritten).
 */
export async function revokeKey(deps: AuthDeps, actor: Actor, id: string, client: ClientInfo) {
  let alreadyRevoked = false;
  const row = await withKeyLock(deps, id, async () => {
    const current = await managedKey(deps, actor, id);
    alreadyRevoked = Boolean(current.revoked_at);
    const revoked = current.revoked_at
      ? current
      : await deps.db
          .forTenant(actor.tenantId)
          .collection("api_keys")
          .update(id, { revoked_at: toPbDate(Date.now()) });
    await publishKey({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      tenantId: actor.tenantId,
      key: revoked,
    });
    return revoked;
  });
  if (alreadyRevoked) return keyView(row);
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "key.revoke",
    target: { type: "api_key", id },
    outcome: "success",
    client,
  });
  return keyView(row);
}

/**
 * Takes the manager scopes (`admin`, `billing`) off every live key a user holds in a tenant (the user was
 * demoted to member): a key must not keep powers its holder lost. Returns how many keys changed.
 */
export async function stripManagerScopes(deps: AuthDeps, tenantId: string, userId: string): Promise<number> {
  const rows = deps.db.forTenant(tenantId).collection("api_keys");
  const live = await rows.listAll({ filter: "user = {:user} && revoked_at = ''", params: { user: userId } });
  let changed = 0;
  for (const key of live) {
    if (!(key.scopes ?? []).some(isManagerScope)) continue;
    await withKeyLock(deps, key.id, async () => {
      const current = await rows.getOne(key.id);
      const row = await rows.update(key.id, {
        scopes: (current.scopes ?? []).filter((scope) => !isManagerScope(scope)),
      });
      await publishKey({ db: deps.db, redis: deps.redis, logger: deps.logger, tenantId, key: row });
    });
    changed += 1;
  }
  return changed;
}

/**
 * Revokes the tenant's keys matching `filter` and republishes their records; the number newly revoked. Keys
 * revoked within the dead-key retention are republished too, so a run cut short (a row revoked, its record not
 * yet written) is finished by the next: the row alone would no longer be listed as live.
 */
async function revokeKeysWhere(
  deps: AuthDeps,
  tenantId: string,
  filter: string,
  params: Record<string, unknown>,
): Promise<number> {
  const rows = deps.db.forTenant(tenantId).collection("api_keys");
  const keys = await rows.listAll({
    filter: `(${filter}) && (revoked_at = '' || revoked_at >= {:since})`,
    params: { ...params, since: toPbDate(Date.now() - DEAD_KEY_RETENTION_MS) },
  });
  let revoked = 0;
  for (const key of keys) {
    await withKeyLock(deps, key.id, async () => {
      const current = await rows.getOne(key.id);
      const row = current.revoked_at
        ? current
        : await rows.update(key.id, { revoked_at: toPbDate(Date.now()) });
      if (!current.revoked_at) revoked += 1;
      await publishKey({ db: deps.db, redis: deps.redis, logger: deps.logger, tenantId, key: row });
    });
  }
  return revoked;
}

/** Revokes every live key a user holds in a tenant (the user left or was removed); the number revoked. */
export function revokeUserKeys(deps: AuthDeps, tenantId: string, userId: string): Promise<number> {
  return revokeKeysWhere(deps, tenantId, "user = {:user}", { user: userId });
}

/** Revokes every live key a user holds or made in a tenant (a service key too); the number revoked. */
export function revokeKeysOfOrBy(deps: AuthDeps, tenantId: string, userId: string): Promise<number> {
  return revokeKeysWhere(deps, tenantId, "user = {:user} || created_by = {:user}", { user: userId });
}
