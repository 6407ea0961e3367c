import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBatchWriter } from "../../src/batch-writer.ts";
import { createPocketBase } from "../../src/client.ts";
import { type DbHarness, logins, startDbHarness } from "./harness.ts";

/** An unsigned JWT whose `exp` is `secondsFromNow` away: enough for the client's expiry check. */
function tokenExpiringIn(secondsFromNow: number): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + secondsFromNow;
  return `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ exp, type: "auth" })}.c2lnbmF0dXJl`;
}

let harness: DbHarness;
beforeAll(async () => {
  harness = await startDbHarness();
});
afterAll(async () => {
  await harness?.pocketbase.stop();
});

describe("superuser session", () => {
  it("logs in once and reuses the session for later calls", async () => {
    const plans = harness.db.operator.collection("plans");
    for (let i = 0; i < 5; i++) await plans.list();
    await Promise.all(Array.from({ length: 5 }, () => plans.list()));
    expect(logins(harness)).toBe(1);
  });

  it("logs in again before a call when the auth store was cleared", async () => {
    const before = logins(harness);
    harness.client.pb.authStore.clear();
    const page = await harness.db.operator.collection("plans").list();
    expect(page.items).toEqual([]);
    expect(logins(harness)).toBe(before + 1);
    expect(harness.client.pb.authStore.isValid).toBe(true);
  });

  it("logs in again before a call when the token is about to expire", async () => {
    const before = logins(harness);
    harness.client.pb.authStore.save(tokenExpiringIn(30), null);
    await harness.db.operator.collection("models").list();
    expect(logins(harness)).toBe(before + 1);
    expect(harness.logger.lines.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("re-authenticates once and retries when PocketBase refuses a token that looks valid", async () => {
    const before = logins(harness);
    // Far from expiry, so only PocketBase's refusal (403 for a superuser-only collection) can reveal it.
    harness.client.pb.authStore.save(tokenExpiringIn(3600), null);
    const created = await harness.db.operator
      .collection("plans")
      .create({ slug: "retried", name: "Retried", tier: "free", currency: "EUR", interval: "month" });
    expect(created).toMatchObject({ slug: "retried", tier: "free" });
    expect(logins(harness)).toBe(before + 1);
    const refused = harness.logger.lines.filter((l) => l.message.includes("session refused"));
    expect(refused).toHaveLength(1);
    expect(refused[0]?.fields.status).toBe(403);
  });

  it("reports a wrong operator password as internal_error, not as the caller's validation error", async () => {
    const client = createPocketBase({
      url: harness.pocketbase.url,
      adminEmail: harness.pocketbase.adminEmail,
      adminPassword: "wrong-password",
    });
    await expect(client.call((pb) => pb.collection("plans").getList(1, 1))).rejects.toMatchObject({
      code: "internal_error",
    });
  });
});

describe("error mapping against PocketBase", () => {
  it("maps a missing row to not_found, a taken slug to conflict and a bad value to validation_failed", async () => {
    const plans = harness.db.operator.collection("plans");
    await expect(plans.getOne("pln_doesnotexist1")).rejects.toMatchObject({ code: "not_found" });
    const plan = { slug: "dup-slug", name: "A", tier: "pro", currency: "EUR", interval: "month" } as const;
    await plans.create(plan);
    await expect(plans.create(plan)).rejects.toMatchObject({ code: "conflict", details: { field: "slug" } });
    await expect(plans.create({ ...plan, slug: "Not A Slug" })).rejects.toMatchObject({
      code: "validation_failed",
      details: { field: "slug", reason: "validation_invalid_format" },
    });
    expect(await plans.getFirst({ filter: "slug = {:slug}", params: { slug: "dup-slug" } })).toMatchObject({
      name: "A",
    });
    expect(await plans.getFirst({ filter: "slug = {:slug}", params: { slug: "absent" } })).toBeNull();
  });
});

describe("when PocketBase is stopped", () => {
  it("ping turns false, calls fail as service_unavailable and batch writes report failure", async () => {
    const doomed = await startDbHarness();
    await doomed.db.operator.collection("plans").list();
    expect(await doomed.client.ping()).toBe(true);
    await doomed.pocketbase.stop();

    expect(await doomed.client.ping()).toBe(false);
    await expect(doomed.db.operator.collection("plans").list()).rejects.toMatchObject({
      code: "service_unavailable",
    });
    const writer = createBatchWriter({
      client: doomed.client,
      collection: "usage_logs",
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const outcome = writer.write({ event_id: "evt_x" });
    await writer.close();
    expect(await outcome).toMatchObject({ status: "failed", error: { code: "service_unavailable" } });
  });

  it("ping resolves false for an address that never answers", async () => {
    const client = createPocketBase({
      url: "http://10.255.255.1:8090",
      adminEmail: "a@b.c",
      adminPassword: "x",
    });
    expect(await client.ping(300)).toBe(false);
  });
});
