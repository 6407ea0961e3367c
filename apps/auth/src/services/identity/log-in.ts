import { createCollection } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { addressSubject, clearLimit, hitLimit } from "../security/rate-limit.ts";
import { issueSession, pickTenant } from "./session.ts";
import { verifyPassword } from "./verify-password.ts";

const FAILURE_WINDOW_MS = 15 * 60 * 1000;

export interface LogInInput {
  email: string;
  password: string;
  tenant?: string | undefined;
}

/**
 * E-mail + password → session. Rate limited per IP (every attempt) and per account (attempts since the last
 * success, so an attacker cannot keep guessing one account from many IPs). Wrong e-mail and wrong password
 * answer alike.
 */
export async function logIn(deps: AuthDeps, input: LogInInput, client: ClientInfo) {
  const email = input.email.trim().toLowerCase();
  const account = {
    name: "login-failures:account",
    subject: email,
    max: deps.env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
    windowMs: FAILURE_WINDOW_MS,
    what: "failed log-ins of this account",
    setting: "LOGIN_MAX_FAILURES_PER_ACCOUNT",
  };
  await hitLimit(deps.redis, {
    name: "login:ip",
    subject: addressSubject(client.ip),
    max: deps.env.LOGIN_MAX_PER_IP,
    windowMs: 60_000,
    what: "log-ins from this address",
    setting: "LOGIN_MAX_PER_IP",
  });
  // Counted before the password is checked, atomically, so guesses sent in parallel cannot all pass the
  // check before any is counted; a successful login clears the count.
  await hitLimit(deps.redis, account);

  const user = await verifyPassword(deps, email, input.password);
  if (!user) {
    const known = await createCollection(deps.db.client, "users").getFirst({
      filter: "email = {:email}",
      params: { email },
    });
    await recordAudit(deps, {
      tenantId: known?.default_tenant || null,
      actor: { type: known ? "user" : "anonymous", ...(known ? { id: known.id } : {}), label: email },
      action: "auth.login",
      outcome: "failure",
      client,
      metadata: { reason: "invalid_credentials" },
    });
    throw new AppError("invalid_credentials", "Invalid e-mail or password");
  }
  await clearLimit(deps.redis, account);
  const { tenant, membership } = await pickTenant(deps, user, input.tenant);
  const session = await issueSession(deps, { user, tenant, membership, client });
  await recordAudit(deps, {
    tenantId: tenant.id,
    actor: { type: "user", id: user.id, label: email },
    action: "auth.login",
    target: { type: "user", id: user.id },
    outcome: "success",
    client,
  });
  return session;
}
