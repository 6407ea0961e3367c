import { publishKey } from "@cloudfreedom/keyring";
import { AppError, apiKeyDisplayPrefix, generateApiKeySecret, hashApiKey } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { membershipOf } from "../identity/session.ts";
import { type Actor, isManager } from "../members/roles.ts";
import { addressSubject, hitLimit } from "../security/rate-limit.ts";
import type { CreateKeyBody } from "./schema.ts";
import { assertScopesAllowed, defaultScopes, settingsToRow } from "./settings.ts";
import { keyView } from "./view.ts";

async function ownerOf(deps: AuthDeps, actor: Actor, userId: string | null | undefined): Promise<string> {
  if (userId === undefined || userId === actor.userId) return actor.userId;
  if (!isManager(actor))
    throw new AppError("forbidden", "Members create keys for themselves only", { field: "user_id" });
  if (userId === null) return "";
  if (!(await membershipOf(deps, actor.tenantId, userId))) {
    throw new AppError("validation_failed", "user_id: not a member of this tenant", { field: "user_id" });
  }
  return userId;
}

/**
 * A new virtual key `cf_live_<32 base62>` (~190 bits). The secret is in this answer only; PocketBase keeps its
 * SHA-256 and display prefix, Redis the KeyRecord the router admits with.
 */
export async function createKey(deps: AuthDeps, actor: Actor, body: CreateKeyBody, client: ClientInfo) {
  await hitLimit(deps.redis, {
    name: "key-create:ip",
    subject: addressSubject(client.ip),
    max: deps.env.KEY_CREATE_MAX_PER_IP,
    windowMs: 60_000,
    what: "keys created from this address",
    setting: "KEY_CREATE_MAX_PER_IP",
  });
  await hitLimit(deps.redis, {
    name: "key-create:user",
    subject: actor.userId,
    max: deps.env.KEY_CREATE_MAX_PER_USER,
    windowMs: 60_000,
    what: "keys created by this user",
    setting: "KEY_CREATE_MAX_PER_USER",
  });
  assertScopesAllowed(actor, body.scopes);
  const user = await ownerOf(deps, actor, body.user_id);
  const secret = generateApiKeySecret("cf_live");
  const row = await deps.db
    .forTenant(actor.tenantId)
    .collection("api_keys")
    .create({
      scopes: defaultScopes(),
      allowed_models: null,
      ...settingsToRow(body),
      hash: await hashApiKey(secret),
      prefix: apiKeyDisplayPrefix(secret),
      user,
      created_by: actor.userId,
    });
  await publishKey({
    db: deps.db,
    redis: deps.redis,
    logger: deps.logger,
    tenantId: actor.tenantId,
    key: row,
  });
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "key.create",
    target: { type: "api_key", id: row.id },
    outcome: "success",
    client,
    metadata: { name: row.name, prefix: row.prefix, user_id: user || null },
  });
  return { key: keyView(row), secret };
}
