import type { CreateOf } from "@cloudfreedom/db";
import { toPbDate } from "@cloudfreedom/db";
import { AppError, DEFAULT_KEY_SCOPES, type KeyScope } from "@cloudfreedom/shared";
import { type Actor, isManager } from "../members/roles.ts";
import type { UpdateKeyBody } from "./schema.ts";

/** Scopes only owners and admins may put on a key. */
const MANAGER_SCOPES: KeyScope[] = ["admin", "billing"];

/** A scope only owners and admins grant (and hold). */
export const isManagerScope = (scope: string): boolean => (MANAGER_SCOPES as string[]).includes(scope);

export function assertScopesAllowed(actor: Actor, scopes: KeyScope[] | undefined): void {
  const privileged = (scopes ?? []).filter(isManagerScope);
  if (privileged.length > 0 && !isManager(actor)) {
    throw new AppError("forbidden", `Only owners and admins grant the ${privileged.join(", ")} scope(s)`, {
      field: "scopes",
    });
  }
}

/** API fields → row fields (PocketBase encoding: 0 = no limit, "" = no date). Omitted fields stay omitted. */
export function settingsToRow(body: UpdateKeyBody): CreateOf<"api_keys"> {
  const row: CreateOf<"api_keys"> = {};
  if (body.name !== undefined) row.name = body.name;
  if (body.scopes !== undefined) row.scopes = body.scopes;
  if (body.models !== undefined) row.allowed_models = body.models;
  if (body.rpm !== undefined) row.rpm = body.rpm ?? 0;
  if (body.tpm !== undefined) row.tpm = body.tpm ?? 0;
  if (body.budget_micros !== undefined) row.budget_micros = body.budget_micros ?? 0;
  if (body.expires_at !== undefined)
    row.expires_at = body.expires_at === null ? "" : toPbDate(Date.parse(body.expires_at));
  return row;
}

export const defaultScopes = (): KeyScope[] => [...DEFAULT_KEY_SCOPES];
