import { AppError } from "@cloudfreedom/shared";
import type { PocketBaseClient } from "./client.ts";
import { createCollection, type TypedCollection } from "./collections.ts";
import { OPERATOR_COLLECTIONS, type OperatorCollectionName } from "./schemas.ts";
import { createTenantScope, type TenantScope } from "./tenant-scope.ts";

/** Platform-wide collections (plans, tenants, users, providers, models): operator code paths only. */
export interface OperatorScope {
  collection<C extends OperatorCollectionName>(name: C): TypedCollection<C>;
}

export interface Db {
  readonly client: PocketBaseClient;
  /** The only way to reach tenant-owned rows: every query is filtered by this tenant. */
  forTenant(tenantId: string): TenantScope;
  /** Rows that belong to no tenant. Named so that a review spots every unscoped access. */
  readonly operator: OperatorScope;
}

export function createDb(client: PocketBaseClient): Db {
  return {
    client,
    forTenant: (tenantId) => createTenantScope(client, tenantId),
    operator: {
      collection(name) {
        if (!(OPERATOR_COLLECTIONS as readonly string[]).includes(name)) {
          throw new AppError("internal_error", `${name} is tenant-owned; use db.forTenant(tenantId)`);
        }
        return createCollection(client, name);
      },
    },
  };
}
