import { AppError, isAppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { consumeRefreshToken } from "../tokens/refresh-tokens.ts";
import { issueSession, membershipOf } from "./session.ts";

const gone = () =>
  new AppError("unauthorized", "This session's user or tenant no longer exists; log in again");

/** A refresh token → a new access token and a new refresh token of the same family (the old one is spent). */
export async function refreshSession(deps: AuthDeps, refreshToken: string, client: ClientInfo) {
  const row = await consumeRefreshToken(deps, refreshToken, client);
  const orGone = <T>(promise: Promise<T>) =>
    promise.catch((error: unknown) => {
      throw isAppError(error) && error.code === "not_found" ? gone() : error;
    });
  const [user, tenant, membership] = await Promise.all([
    orGone(deps.db.operator.collection("users").getOne(row.user)),
    orGone(deps.db.operator.collection("tenants").getOne(row.tenant)),
    membershipOf(deps, row.tenant, row.user),
  ]);
  if (!membership)
    throw new AppError("unauthorized", "You are no longer a member of this tenant; log in again");
  return issueSession(deps, { user, tenant, membership, client, family: row.family });
}
