import { AppError, type KeyRecord } from "@cloudfreedom/shared";

/** Who is calling: a tenant's API key, a tenant member (JWT), or a platform operator. */
export type Principal =
  | { kind: "key"; tenantId: string; keyId: string; userId: string | null; record: KeyRecord }
  | { kind: "user"; tenantId: string; userId: string; role: string }
  | { kind: "operator" };

declare module "hono" {
  interface ContextVariableMap {
    principal: Principal;
  }
}

/**
 * The tenant a request acts on. Keys and members act on their own tenant only: naming another one is refused
 * as if it did not exist, so a caller learns nothing about other tenants. Operators must name the tenant.
 */
export function tenantOf(principal: Principal, requested?: string | null): string {
  if (principal.kind === "operator") {
    if (!requested) {
      throw new AppError("validation_failed", "tenant_id: operators must name the tenant", {
        field: "tenant_id",
      });
    }
    return requested;
  }
  if (requested && requested !== principal.tenantId) {
    throw new AppError("not_found", "No such tenant", { field: "tenant_id" });
  }
  return principal.tenantId;
}

/** Tenant owners and admins (JWT), keys with the `admin` scope, and operators. */
export function isManager(principal: Principal): boolean {
  if (principal.kind === "operator") return true;
  if (principal.kind === "user") return principal.role === "owner" || principal.role === "admin";
  return principal.record.scopes.includes("admin");
}

/** Managers (`isManager`) may change billing settings. */
export function requireManager(principal: Principal): void {
  if (isManager(principal)) return;
  throw new AppError("forbidden", "Only the tenant's owners and admins (or an operator) may do this", {
    required_role: "owner|admin",
  });
}

export function requireOperator(principal: Principal): void {
  if (principal.kind !== "operator") {
    throw new AppError(
      "forbidden",
      "Only platform operators may do this (Authorization: Bearer <OPERATOR_TOKEN>)",
    );
  }
}

/** Requests that act as a tenant's member or key (budget checks, usage reports) exclude operators. */
export function requireTenantCaller(principal: Principal): Exclude<Principal, { kind: "operator" }> {
  if (principal.kind === "operator") {
    throw new AppError("forbidden", "Use a tenant's API key or access token for this endpoint");
  }
  return principal;
}
