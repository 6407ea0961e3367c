import { createCollection, toAppError, toPbDate, UserRow } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import { ClientResponseError } from "pocketbase";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { revokeKeysOfOrBy } from "../keys/manage.ts";
import { defaultPlan } from "../tenants/plans.ts";
import { newRecordId, slugFromEmail } from "../tenants/slug.ts";
import { revokeUserSessions } from "../tokens/refresh-tokens.ts";
import { issueSession, membershipsOfUser, pickTenant } from "./session.ts";
import { endUserAccessTokens } from "./sessions-ended.ts";

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
  const { providers } = await listOAuth2Providers(deps);
  if (!providers.some((p) => p.name === input.provider)) {
    throw new AppError(
      "validation_failed",
      providers.length === 0
        ? "OAuth2 log-in is not set up: enable a provider on PocketBase's users collection (OAuth2 settings)"
        : `provider: "${input.provider}" is not enabled; GET /v1/auth/oauth2/providers lists those that are`,
      { field: "provider" },
    );
  }
  let record: unknown;
  try {
    ({ record } = await deps.db.client.callRaw((pb) =>
      pb.send<{ record: unknown }>("/api/collections/users/auth-with-oauth2", {
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
  // The flag is hidden from the exchange's answer; the superuser read sees it.
  if ((await deps.db.operator.collection("users").getOne(user.id)).reclaim_pending)
    user = await reclaimAccount(deps, user, input.provider, client);
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
 * OAuth2 linked a provider to an account whose e-mail was never verified (`reclaim_pending`, set by the
 * PocketBase host in the link's transaction; PocketBase reset the password). Sign-up does not verify e-mails, so
 * whoever made the account may not own the address and may still hold what it issued: its access and refresh
 * tokens end, the keys it holds or made are revoked and the invitations it sent are withdrawn, in every tenant,
 * audited in each. The flag is cleared only after all of it, so a reclaim cut short is finished by the next
 * log-in; every step can run again.
 */
async function reclaimAccount(deps: AuthDeps, user: UserRow, provider: string, client: ClientInfo) {
  await endUserAccessTokens(deps, user.id);
  const tenants = (await membershipsOfUser(deps, user.id)).map((m) => m.tenant);
  await revokeUserSessions(deps, user.id, tenants);
  for (const tenantId of tenants) {
    const keysRevoked = await revokeKeysOfOrBy(deps, tenantId, user.id);
    const invitations = deps.db.forTenant(tenantId).collection("invitations");
    const open = await invitations.listAll({
      filter: "invited_by = {:user} && accepted_at = '' && revoked_at = ''",
      params: { user: user.id },
    });
    for (const invitation of open)
      await invitations.update(invitation.id, { revoked_at: toPbDate(Date.now()) });
    await recordAudit(deps, {
      tenantId,
      actor: { type: "user", id: user.id, label: user.email },
      action: "auth.oauth2_reclaim",
      target: { type: "user", id: user.id },
      outcome: "success",
      client,
      metadata: { provider, keys_revoked: keysRevoked, invitations_revoked: open.length },
    });
  }
  const reclaimed = await deps.db.operator.collection("users").update(user.id, { reclaim_pending: false });
  deps.logger.warn(
    { user: user.id, tenants: tenants.length },
    "OAuth2 linked an unverified account: what it had been issued was ended",
  );
  return reclaimed;
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
