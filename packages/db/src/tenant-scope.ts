import { AppError } from "@cloudfreedom/shared";
import type { PocketBaseClient } from "./client.ts";
import {
  bindFilter,
  createCollection,
  type FilterQuery,
  type ListPage,
  type ListQuery,
} from "./collections.ts";
import {
  type CreateOf,
  type RowOf,
  TENANT_COLLECTIONS,
  type TenantCollectionName,
  type UpdateOf,
} from "./schemas.ts";

/** What a client calls each tenant-owned row, for messages it reads (not the table name). */
const RESOURCE_NAMES: Record<TenantCollectionName, string> = {
  api_keys: "API key",
  memberships: "membership",
  usage_logs: "usage record",
  subscriptions: "subscription",
  audit_logs: "audit log entry",
  refresh_tokens: "session",
  invitations: "invitation",
  budgets: "budget",
  usage_period_totals: "usage period total",
  usage_daily_totals: "daily usage total",
};

/** The not-found error of a tenant's row: `No API key "key_…" in this tenant`. */
export function tenantRowNotFound(name: TenantCollectionName, id: string): AppError {
  return new AppError("not_found", `No ${RESOURCE_NAMES[name]} ${JSON.stringify(id)} in this tenant`);
}

/** Record ids of our collections (pb_migrations: `^[a-z0-9_]+$`, 3..64). */
const RECORD_ID = /^[a-z0-9_]{3,64}$/;

export interface TenantCollection<C extends TenantCollectionName> {
  readonly name: C;
  readonly tenantId: string;
  /** Throws `not_found` for another tenant's row, exactly as for a missing one. */
  getOne(id: string): Promise<RowOf<C>>;
  getFirst(query: FilterQuery & { sort?: string }): Promise<RowOf<C> | null>;
  list(query?: ListQuery): Promise<ListPage<RowOf<C>>>;
  listAll(query?: FilterQuery & { sort?: string }): Promise<RowOf<C>[]>;
  /** Sets `tenant`; a different `tenant` in `data` is refused. */
  create(data: CreateOf<C>): Promise<RowOf<C>>;
  update(id: string, data: UpdateOf<C>): Promise<RowOf<C>>;
  delete(id: string): Promise<void>;
}

export interface TenantScope {
  readonly tenantId: string;
  collection<C extends TenantCollectionName>(name: C): TenantCollection<C>;
}

function refuseOtherTenant(tenantId: string, data: { tenant?: unknown }): void {
  if (data.tenant !== undefined && data.tenant !== tenantId) {
    throw new AppError("validation_failed", "tenant: a row cannot be written for another tenant", {
      field: "tenant",
    });
  }
}

/**
 * Every read ANDs `tenant = {:tenant}` (bound by the SDK) in front of the caller's filter, every create sets
 * `tenant`, and update/delete first read the row through that same filter, so another tenant's row looks
 * absent (`not_found`) rather than forbidden.
 */
export function createTenantScope(client: PocketBaseClient, tenantId: string): TenantScope {
  if (!RECORD_ID.test(tenantId)) {
    throw new AppError("validation_failed", "tenant: must be a tenant record id", { field: "tenant" });
  }
  const tenantFilter = client.filter("tenant = {:tenant}", { tenant: tenantId });
  const scoped = (query: FilterQuery | undefined): FilterQuery => {
    const own = bindFilter(client, query);
    return { filter: own ? `${tenantFilter} && (${own})` : tenantFilter };
  };

  return {
    tenantId,
    collection<C extends TenantCollectionName>(name: C): TenantCollection<C> {
      if (!(TENANT_COLLECTIONS as readonly string[]).includes(name)) {
        throw new AppError("internal_error", `${name} is not a tenant-owned collection`);
      }
      const rows = createCollection(client, name);

      async function getOne(id: string): Promise<RowOf<C>> {
        const row = RECORD_ID.test(id)
          ? await rows.getFirst(scoped({ filter: "id = {:id}", params: { id } }))
          : null;
        if (row === null) throw tenantRowNotFound(name, id);
        return row;
      }

      return {
        name,
        tenantId,
        getOne,
        getFirst: (query) => rows.getFirst({ ...scoped(query), sort: query.sort }),
        list: (query = {}) =>
          rows.list({ ...scoped(query), sort: query.sort, page: query.page, perPage: query.perPage }),
        listAll: (query = {}) => rows.listAll({ ...scoped(query), sort: query.sort }),
        async create(data) {
          refuseOtherTenant(tenantId, data);
          return rows.create({ ...data, tenant: tenantId });
        },
        async update(id, data) {
          refuseOtherTenant(tenantId, data);
          await getOne(id);
          return rows.update(id, data);
        },
        async delete(id) {
          await getOne(id);
          await rows.delete(id);
        },
      };
    },
  };
}
