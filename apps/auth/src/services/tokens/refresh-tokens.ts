import { createCollection, pbDateToMs, type RefreshTokenRow, toPbDate } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { hashSecret, newSecret } from "./secrets.ts";

export interface IssuedRefreshToken {
  token: string;
  expiresIn: number;
  row: RefreshTokenRow;
}

export async function issueRefreshToken(
  deps: AuthDeps,
  input: { tenantId: string; userId: string; family?: string; client: ClientInfo },
): Promise<IssuedRefreshToken> {
  const token = newSecret("cfr");
  const ttl = deps.env.REFRESH_TOKEN_TTL_S;
  const row = await deps.db
    .forTenant(input.tenantId)
    .collection("refresh_tokens")
    .create({
      user: input.userId,
      family: input.family ?? crypto.randomUUID(),
      hash: hashSecret(token),
      expires_at: toPbDate(Date.now() + ttl * 1000),
      ip: input.client.ip.slice(0, 64),
      user_agent: input.client.userAgent.slice(0, 1024),
    });
  return { token, expiresIn: ttl, row };
}

const invalid = () => new AppError("unauthorized", "Invalid refresh token; log in again");

/** Unscoped by design: a refresh request carries only the token (`idx_refresh_tokens_hash` is the exception). */
async function findByToken(deps: AuthDeps, token: string): Promise<RefreshTokenRow | null> {
  if (!/^cfr_[0-9A-Za-z]{32}$/.test(token)) return null;
  return createCollection(deps.db.client, "refresh_tokens").getFirst({
    filter: "hash = {:hash}",
    params: { hash: hashSecret(token) },
  });
}

export async function revokeFamily(
  deps: AuthDeps,
  row: Pick<RefreshTokenRow, "tenant" | "family">,
): Promise<number> {
  const rows = deps.db.forTenant(row.tenant).collection("refresh_tokens");
  const live = await rows.listAll({
    filter: "family = {:family} && revoked_at = ''",
    params: { family: row.family },
  });
  const now = toPbDate(Date.now());
  for (const token of live) await rows.update(token.id, { revoked_at: now });
  return live.length;
}

/**
 * Spends a refresh token: it works once. The claim is atomic in Redis (two concurrent uses cannot both win);
 * presenting a token that was already used means it leaked, so its whole family (every token of that login)
 * is revoked.
 */
export async function consumeRefreshToken(
  deps: AuthDeps,
  token: string,
  client: ClientInfo,
): Promise<RefreshTokenRow> {
  const row = await findByToken(deps, token);
  if (!row) throw invalid();
  if (row.revoked_at !== "") throw invalid();
  if ((pbDateToMs(row.expires_at) ?? 0) <= Date.now()) {
    throw new AppError("token_expired", "Refresh token expired; log in again");
  }
  const claimed = await deps.redis.set(`cf:auth:refresh-used:${row.hash}`, "1", "PX", 60 * 60 * 1000, "NX");
  if (row.used_at !== "" || claimed !== "OK") {
    const revoked = await revokeFamily(deps, row);
    await recordAudit(deps, {
      tenantId: row.tenant,
      actor: { type: "user", id: row.user },
      action: "auth.refresh_reuse",
      target: { type: "refresh_token_family", id: row.family },
      outcome: "failure",
      client,
      metadata: { revoked },
    });
    deps.logger.warn(
      { tenant: row.tenant, user: row.user, family: row.family },
      "refresh token reused; family revoked",
    );
    throw invalid();
  }
  await deps.db
    .forTenant(row.tenant)
    .collection("refresh_tokens")
    .update(row.id, { used_at: toPbDate(Date.now()) });
  return row;
}

/** Logout: the token's whole family stops working. Unknown tokens are accepted silently (idempotent). */
export async function revokeRefreshToken(deps: AuthDeps, token: string): Promise<boolean> {
  const row = await findByToken(deps, token);
  if (!row) return false;
  await revokeFamily(deps, row);
  return true;
}

/** Every session of a user in every tenant (after a password change). */
export async function revokeUserSessions(deps: AuthDeps, userId: string, tenantIds: string[]): Promise<void> {
  for (const tenantId of tenantIds) {
    const rows = deps.db.forTenant(tenantId).collection("refresh_tokens");
    const live = await rows.listAll({
      filter: "user = {:user} && revoked_at = ''",
      params: { user: userId },
    });
    const now = toPbDate(Date.now());
    for (const row of live) await rows.update(row.id, { revoked_at: now });
  }
}
