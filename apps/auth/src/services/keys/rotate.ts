import { pbDateToMs, toPbDate } from "@cloudfreedom/db";
import { publishKey } from "@cloudfreedom/keyring";
import { AppError, apiKeyDisplayPrefix, generateApiKeySecret, hashApiKey } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import type { Actor } from "../members/roles.ts";
import { withKeyLock } from "./key-lock.ts";
import type { RotateKeyBody } from "./schema.ts";
import { keyView, managedKey } from "./view.ts";

/**
 * A new secret with the same settings (`rotated_from` links them). The old secret keeps working until
 * `grace_until` (its KeyRecord's expiry), then dies; a grace of 0 revokes it now.
 */
export async function rotateKey(
  deps: AuthDeps,
  actor: Actor,
  id: string,
  body: RotateKeyBody,
  client: ClientInfo,
) {
  return withKeyLock(deps, id, () => rotateLocked(deps, actor, id, body, client));
}

async function rotateLocked(
  deps: AuthDeps,
  actor: Actor,
  id: string,
  body: RotateKeyBody,
  client: ClientInfo,
) {
  const old = await managedKey(deps, actor, id);
  if (old.revoked_at || old.grace_until) {
    // Written again first: a rotation cut short after the row changed (grace 0 revokes it) must not leave the
    // old record live or without its end.
    await publishKey({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      tenantId: actor.tenantId,
      key: old,
    });
    throw old.revoked_at
      ? new AppError("conflict", "This key is revoked; create a new one", { key_id: id })
      : new AppError("conflict", "This key was already rotated; rotate its successor", { key_id: id });
  }
  const expires = pbDateToMs(old.expires_at);
  if (expires !== null && expires <= Date.now())
    throw new AppError("conflict", "This key has expired; create a new one", { key_id: id });

  const rows = deps.db.forTenant(actor.tenantId).collection("api_keys");
  const secret = generateApiKeySecret("cf_live");
  const successor = await rows.create({
    hash: await hashApiKey(secret),
    prefix: apiKeyDisplayPrefix(secret),
    user: old.user,
    name: old.name,
    scopes: old.scopes,
    allowed_models: old.allowed_models,
    rpm: old.rpm,
    tpm: old.tpm,
    budget_micros: old.budget_micros,
    expires_at: old.expires_at,
    rotated_from: old.id,
    created_by: actor.userId,
  });
  const now = Date.now();
  const retired = await rows.update(
    old.id,
    body.grace_period_s === 0
      ? { revoked_at: toPbDate(now) }
      : { grace_until: toPbDate(now + body.grace_period_s * 1000) },
  );
  const keyring = { db: deps.db, redis: deps.redis, logger: deps.logger, tenantId: actor.tenantId };
  await publishKey({ ...keyring, key: successor });
  await publishKey({ ...keyring, key: retired });
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "key.rotate",
    target: { type: "api_key", id: old.id },
    outcome: "success",
    client,
    metadata: { successor_id: successor.id, grace_period_s: body.grace_period_s },
  });
  return { key: keyView(successor), secret, previous: keyView(retired) };
}
