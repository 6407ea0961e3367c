import { createCollection, toAppError, UserRow } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import { ClientResponseError } from "pocketbase";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { revokeUserKeys } from "../keys/manage.ts";
import { defaultPlan } from "../tenants/plans.ts";
import { newRecordId, slugFromEmail } from "../tenants/slug.ts";
import { revokeUserSessions } from "../tokens/refresh-tokens.ts";
import { issueSession, membershipsOfUser, pickTenant } from "./session.ts";
import { endAccessTokens } from "./sessions-ended.ts";

interface PbProvider {
  name: string;
  displayName: string;
  state: string;
  authURL: string;
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: string;
}

/**
 * The OAuth2 providers the operator configured on PocketBase's `users` collection, each with a ready authorization
 * URL (append your `redirect_uri`), state and PKCE verifier; keep the last two for the code exchange.
 */
export async function listOAuth2Providers(deps: AuthDeps) {
  const methods = await deps.db.client.call((pb) =>
    pb.send<{ oauth2?: { enabled: boolean; providers: PbProvider[] } }>(
      "/api/collections/users/auth-methods",
      {},
    ),
  );
  const providers = methods.oauth2?.enabled ? methods.oauth2.providers : [];
  return {
    enabled: providers.length > 0,
    providers: providers.map((p) => ({
      name: p.name,
      display_name: p.displayName,
      auth_url: p.authURL,
      state: p.state,
      code_verifier: p.codeVerifier,
      code_challenge: p.codeChallenge,
      code_challenge_method: p.codeChallengeMethod,
    })),
  };
}

/**
 * Completes an OAuth2 login through PocketBase (it exchanges the code and links or creates the user). A user new to
 * the platform gets a personal tenant on the default plan, as at sign-up.
 */
export async function logInWithOAuth2(
  deps: AuthDeps,
  input: {
    provider: string;
    code: string;
    code_verifier: string;
    redirect_url: string;
    tenant?: string | undefined;
  },
  client: ClientInfo,
) {
  const startedAt = Date.now();
  let record: unknown;
  let meta: { isNew?: boolean } | undefined;
  try {
    ({ record, meta } = await deps.db.client.callRaw((pb) =>
      pb.send<{ record: unknown; meta?: { isNew?: boolean } }>("/api/collections/users/auth-with-oauth2", {
        method: "POST",
        body: {
          provider: input.provider,
          code: input.code,
          codeVerifier: input.code_verifier,
          redirectURL: input.redirect_url,
        },
      }),
    ));
  } catch (error) {
    if (error instanceof ClientResponseError && error.status === 400) {
      throw new AppError("invalid_credentials", "The OAuth2 code was refused by the provider or PocketBase", {
        provider: input.provider,
      });
    }
    throw toAppError(error);
  }
  let user = UserRow.parse(record);
  if (meta?.isNew === false && (await linkedUnverifiedAccount(deps, user.id, startedAt)))
    await reclaimAccount(deps, user, input.provider, client);
  const memberships = await createCollection(deps.db.client, "memberships").list({
    perPage: 1,
    filter: deps.db.client.filter("user = {:u}", { u: user.id }),
  });
  if (memberships.totalItems === 0) user = await givePersonalTenant(deps, user);
  const { tenant, membership } = await pickTenant(deps, user, input.tenant);
  await recordAudit(deps, {
    tenantId: tenant.id,
    actor: { type: "user", id: user.id, label: user.email },
    action: "auth.login",
    outcome: "success",
    client,
    metadata: { method: "oauth2", provider: input.provider },
  });
  return issueSession(deps, { user, tenant, membership, client });
}

/**
 * Whether this exchange linked the provider to an account whose e-mail was never verified. PocketBase then
 * resets the account's password and drops every other OAuth2 link (pre-hijacking protection), so the one link
 * left was made by this call. Sign-up does not verify e-mails, so every account made with a password is such an
 * account until its first OAuth2 log-in.
 */
async function linkedUnverifiedAccount(deps: AuthDeps, userId: string, startedAt: number): Promise<boolean> {
  const links = await deps.db.client.call((pb) =>
    pb.collection("_externalAuths").getFullList<{ created: string }>({
      filter: pb.filter("recordRef = {:id}", { id: userId }),
      fields: "created",
    }),
  );
  // PocketBase stamps in milliseconds on the same clock; a second of slack for its own transaction.
  return links.every((link) => Date.parse(link.created.replace(" ", "T")) >= startedAt - 1_000);
}

/**
 * The address's owner proved it through the provider, and whoever made the account before (anyone can sign up
 * with any address) may still hold what it issued: its access and refresh tokens end and its API keys are
 * revoked, in every tenant, as PocketBase resets its password. Audited in each tenant.
 */
async function reclaimAccount(deps: AuthDeps, user: UserRow, provider: string, client: ClientInfo) {
  await endAccessTokens(deps, user.id);
  const tenants = (await membershipsOfUser(deps, user.id)).map((m) => m.tenant);
  await revokeUserSessions(deps, user.id, tenants);
  for (const tenantId of tenants) {
    const keysRevoked = await revokeUserKeys(deps, tenantId, user.id);
    await recordAudit(deps, {
      tenantId,
      actor: { type: "user", id: user.id, label: user.email },
      action: "auth.oauth2_reclaim",
      target: { type: "user", id: user.id },
      outcome: "success",
      client,
      metadata: { provider, keys_revoked: keysRevoked },
    });
  }
  deps.logger.warn(
    { user: user.id, tenants: tenants.length },
    "OAuth2 linked an unverified account: its earlier sessions ended and its keys were revoked",
  );
}

async function givePersonalTenant(deps: AuthDeps, user: UserRow): Promise<UserRow> {
  const plan = await defaultPlan(deps);
  const tenantId = newRecordId("tnt");
  await deps.db.client.call((pb) => {
    const batch = pb.createBatch();
    batch.collection("tenants").create({
      id: tenantId,
      slug: slugFromEmail(user.email),
      name: `${user.name || user.email.split("@")[0]}'s workspace`,
      plan: plan?.id ?? "",
      tier: plan?.tier ?? "free",
      currency: plan?.currency ?? "EUR",
      status: "active",
    });
    batch.collection("memberships").create({ tenant: tenantId, user: user.id, role: "owner" });
    batch.collection("users").update(user.id, { default_tenant: tenantId });
    return batch.send();
  });
  return deps.db.operator.collection("users").getOne(user.id);
}
