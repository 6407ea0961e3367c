import type PocketBase from "pocketbase";
import { describe, expect, it } from "vitest";
import type { PocketBaseClient } from "../src/client.ts";
import { createDb } from "../src/db.ts";

const row = (tenant: string) => ({
  id: "mem_1",
  created: "",
  updated: "",
  tenant,
  user: "usr_1",
  role: "member",
  invited_by: "",
});

/** Records the filters PocketBase would receive; stores one membership of tenant `tnt_owner`. */
function recordingDb() {
  const filters: string[] = [];
  const writes: Array<{ op: string; data?: unknown }> = [];
  const stored = row("tnt_owner");
  const pb = {
    filter: (raw: string, params: Record<string, unknown>) =>
      raw.replace(/\{:(\w+)\}/g, (_, name: string) => JSON.stringify(params[name])),
    collection: () => ({
      getList: async (_page: number, _perPage: number, options: { filter: string }) => {
        filters.push(options.filter);
        const matches = options.filter.includes(`tenant = "${stored.tenant}"`);
        return { page: 1, perPage: 1, totalItems: -1, totalPages: -1, items: matches ? [stored] : [] };
      },
      create: async (data: Record<string, unknown>) => {
        writes.push({ op: "create", data });
        return { ...row(String(data.tenant)), ...data };
      },
      update: async () => writes.push({ op: "update" }),
      delete: async () => writes.push({ op: "delete" }),
    }),
  } as unknown as PocketBase;
  const client: PocketBaseClient = {
    url: "http://fake",
    pb,
    call: (fn) => fn(pb),
    callRaw: (fn) => fn(pb),
    filter: (raw, params) => pb.filter(raw, params),
    authenticate: async () => undefined,
    ping: async () => true,
  };
  return { db: createDb(client), filters, writes };
}

describe("tenant scope", () => {
  it("ANDs the bound tenant filter in front of the caller's bound filter", async () => {
    const { db, filters } = recordingDb();
    await db
      .forTenant("tnt_owner")
      .collection("memberships")
      .list({
        filter: "role = {:role}",
        params: { role: '" || tenant != "' },
      });
    expect(filters).toEqual([`tenant = "tnt_owner" && (role = "\\" || tenant != \\"")`]);
  });

  it("makes another tenant's row look absent on read, update and delete", async () => {
    const { db, writes } = recordingDb();
    const other = db.forTenant("tnt_other").collection("memberships");
    await expect(other.getOne("mem_1")).rejects.toMatchObject({
      code: "not_found",
      message: 'No membership "mem_1" in this tenant',
    });
    await expect(other.update("mem_1", { role: "owner" })).rejects.toMatchObject({ code: "not_found" });
    await expect(other.delete("mem_1")).rejects.toMatchObject({ code: "not_found" });
    expect(writes).toEqual([]);
  });

  it("sets the tenant on create and refuses a row for another tenant", async () => {
    const { db, writes } = recordingDb();
    const scoped = db.forTenant("tnt_owner").collection("memberships");
    const created = await scoped.create({ user: "usr_2", role: "admin" });
    expect(created.tenant).toBe("tnt_owner");
    await expect(scoped.create({ user: "usr_3", role: "admin", tenant: "tnt_other" })).rejects.toMatchObject({
      code: "validation_failed",
      details: { field: "tenant" },
    });
    expect(writes).toHaveLength(1);
  });

  it("refuses an empty or malformed tenant id instead of matching tenant-less rows", () => {
    const { db } = recordingDb();
    expect(() => db.forTenant("")).toThrow(/tenant/);
    expect(() => db.forTenant('x" || "1')).toThrow(/tenant/);
  });

  it("keeps tenant-owned and platform collections on their own accessors", () => {
    const { db } = recordingDb();
    // @ts-expect-error plans belong to no tenant
    expect(() => db.forTenant("tnt_owner").collection("plans")).toThrow(/not a tenant-owned/);
    // @ts-expect-error api_keys are tenant-owned
    expect(() => db.operator.collection("api_keys")).toThrow(/forTenant/);
  });
});
