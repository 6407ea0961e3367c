import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, createMembership, createTenant, createUser } from "../../../testing/src/factories.ts";
import { type LeasedRedisDb, leaseRedisDb } from "../../../testing/src/redis.ts";
import type { ApiKeyRow, TenantRow } from "../../src/schemas.ts";
import { type DbHarness, startDbHarness } from "./harness.ts";

let harness: DbHarness;
let redisDb: LeasedRedisDb;
let tenantA: TenantRow;
let tenantB: TenantRow;
let keyA: ApiKeyRow;
let keyB: ApiKeyRow;

beforeAll(async () => {
  [harness, redisDb] = await Promise.all([startDbHarness(), leaseRedisDb()]);
  const ctx = { db: harness.db, redis: redisDb.redis };
  [tenantA, tenantB] = await Promise.all([createTenant(ctx), createTenant(ctx)]);
  keyA = (await createApiKey(ctx, tenantA, { name: "shared name" })).row;
  keyB = (await createApiKey(ctx, tenantB, { name: "shared name" })).row;
  await createApiKey(ctx, tenantB, { name: "b only" });
  const { user } = await createUser(ctx);
  await createMembership(ctx, { tenant: tenantA, user, role: "owner" });
  await createMembership(ctx, { tenant: tenantB, user, role: "member" });
});
afterAll(async () => {
  await Promise.all([harness?.pocketbase.stop(), redisDb?.release()]);
});

describe("tenant-scoped access", () => {
  it("lists only the tenant's own rows, with or without a caller filter", async () => {
    const keys = harness.db.forTenant(tenantA.id).collection("api_keys");
    expect((await keys.listAll()).map((row) => row.id)).toEqual([keyA.id]);
    const named = await keys.list({ filter: "name = {:name}", params: { name: "shared name" } });
    expect(named.items.map((row) => row.id)).toEqual([keyA.id]);
    expect(named.totalItems).toBe(1);
    const memberships = await harness.db.forTenant(tenantB.id).collection("memberships").listAll();
    expect(memberships.map((row) => [row.tenant, row.role])).toEqual([[tenantB.id, "member"]]);
  });

  it("binds a filter value that tries to break out of the tenant condition", async () => {
    const keys = harness.db.forTenant(tenantA.id).collection("api_keys");
    const hostile = await keys.listAll({ filter: "name = {:name}", params: { name: '" || tenant != "' } });
    expect(hostile).toEqual([]);
    const widened = await keys.listAll({ filter: "name != '' || id != ''" });
    expect(widened.map((row) => row.tenant)).toEqual([tenantA.id]);
  });

  it("reads another tenant's row as not_found", async () => {
    const keys = harness.db.forTenant(tenantA.id).collection("api_keys");
    await expect(keys.getOne(keyB.id)).rejects.toMatchObject({ code: "not_found" });
    expect(await keys.getFirst({ filter: "id = {:id}", params: { id: keyB.id } })).toBeNull();
    expect(await keys.getOne(keyA.id)).toMatchObject({ id: keyA.id, tenant: tenantA.id });
  });

  it("refuses to update or delete another tenant's row and leaves it unchanged", async () => {
    const keys = harness.db.forTenant(tenantA.id).collection("api_keys");
    await expect(keys.update(keyB.id, { name: "hijacked" })).rejects.toMatchObject({ code: "not_found" });
    await expect(keys.delete(keyB.id)).rejects.toMatchObject({ code: "not_found" });
    const untouched = await harness.db.forTenant(tenantB.id).collection("api_keys").getOne(keyB.id);
    expect(untouched).toEqual(keyB);
  });

  it("updates and deletes the tenant's own row", async () => {
    const keys = harness.db.forTenant(tenantA.id).collection("api_keys");
    const renamed = await keys.update(keyA.id, { name: "renamed" });
    expect(renamed).toMatchObject({ id: keyA.id, name: "renamed", tenant: tenantA.id });
    await expect(keys.update(keyA.id, { tenant: tenantB.id })).rejects.toMatchObject({
      code: "validation_failed",
      details: { field: "tenant" },
    });
    await keys.delete(keyA.id);
    await expect(keys.getOne(keyA.id)).rejects.toMatchObject({ code: "not_found" });
  });

  it("stamps the tenant on create", async () => {
    const scoped = harness.db.forTenant(tenantB.id).collection("memberships");
    const { user } = await createUser({ db: harness.db });
    const created = await scoped.create({ user: user.id, role: "admin" });
    expect(created).toMatchObject({ tenant: tenantB.id, user: user.id, role: "admin" });
  });
});
