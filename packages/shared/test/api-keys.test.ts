import { describe, expect, it } from "vitest";
import {
  API_KEY_HASH_PATTERN,
  apiKeyDisplayPrefix,
  buildKeyRecord,
  DEFAULT_KEY_SCOPES,
  generateApiKeySecret,
  hashApiKey,
  KeyRecord,
  keyRejection,
} from "../src/index.ts";

describe("API key secrets", () => {
  it("hashes with SHA-256 to lowercase hex (FIPS 180-2 test vectors)", async () => {
    expect(await hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await hashApiKey("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(await hashApiKey("cf_live_ä")).toMatch(API_KEY_HASH_PATTERN);
  });

  it("generates prefixed secrets with 32 base62 characters that never repeat", () => {
    const secrets = new Set(Array.from({ length: 1_000 }, () => generateApiKeySecret("cf_test")));
    expect(secrets.size).toBe(1_000);
    for (const secret of secrets) expect(secret).toMatch(/^cf_test_[0-9A-Za-z]{32}$/);
    expect(generateApiKeySecret()).toMatch(/^cf_live_[0-9A-Za-z]{32}$/);
  });

  it("uses every base62 character (no biased or truncated alphabet)", () => {
    const seen = new Set(Array.from({ length: 300 }, () => generateApiKeySecret().slice(8)).join(""));
    expect(seen.size).toBe(62);
  });

  it("refuses a prefix that would make secrets ambiguous", () => {
    expect(() => generateApiKeySecret("CF live")).toThrow(RangeError);
    expect(() => generateApiKeySecret("cf_")).toThrow(RangeError);
  });

  it("shows only the non-secret leading characters", () => {
    expect(apiKeyDisplayPrefix("cf_live_AbCdEfGh1234")).toBe("cf_live_AbCd");
  });
});

const tenant = { id: "tnt_a", slug: "acme", tier: "pro" as const, status: "active" };
const plan = { rpm: 600, tpm: 0, query_limit: 10_000, monthly_budget_micros: 50_000_000, markup_pct: 20 };
const key = {
  id: "key_1",
  user: "usr_1",
  scopes: ["chat" as const],
  allowed_models: ["gpt-4o-mini"],
  rpm: 60,
  tpm: 0,
  budget_micros: 0,
  expires_at: "",
  revoked_at: "",
  grace_until: "",
};

describe("buildKeyRecord", () => {
  it("turns PocketBase rows (0 = no limit, '' = empty) into a KeyRecord", () => {
    const record = buildKeyRecord({ tenant, plan, key });
    expect(record).toEqual({
      key_id: "key_1",
      tenant_id: "tnt_a",
      tenant_slug: "acme",
      user_id: "usr_1",
      tier: "pro",
      scopes: ["chat"],
      models: ["gpt-4o-mini"],
      rpm: 60,
      tpm: null,
      budget_micros: null,
      tenant_limits: { rpm: 600, tpm: null, query_limit: 10_000, budget_micros: 50_000_000, markup_pct: 20 },
      expires_at: null,
      revoked: false,
    });
    expect(KeyRecord.parse(record)).toEqual(record);
  });

  it("defaults scopes, has no tenant limits without a plan, and treats an empty user as none", () => {
    const record = buildKeyRecord({ tenant, plan: null, key: { id: "key_2", user: "", scopes: null } });
    expect(record.scopes).toEqual(DEFAULT_KEY_SCOPES);
    expect(record.user_id).toBeNull();
    expect(record.models).toBeNull();
    expect(record.tenant_limits).toEqual({
      rpm: null,
      tpm: null,
      query_limit: null,
      budget_micros: null,
      markup_pct: 0,
    });
  });

  it("expires at the earlier of expiry and rotation grace, in epoch ms", () => {
    const record = buildKeyRecord({
      tenant,
      plan,
      key: { ...key, expires_at: "2027-01-01 00:00:00.000Z", grace_until: "2026-12-01T00:00:00Z" },
    });
    expect(record.expires_at).toBe(Date.UTC(2026, 11, 1));
    expect(keyRejection(record, Date.UTC(2026, 11, 2))).toBe("expired");
  });

  it("puts the tenant's standing budget over its plan's, and the key's user's standing budget on the key", () => {
    const record = buildKeyRecord({
      tenant,
      plan,
      key,
      tenantBudgetMicros: 7_000_000,
      userBudgetMicros: 250_000,
    });
    expect(record.tenant_limits.budget_micros).toBe(7_000_000);
    expect(record.user_budget_micros).toBe(250_000);
    expect(KeyRecord.parse(record)).toEqual(record);
    // A standing limit below the plan's is what admission counts too, not the lower of the two.
    expect(buildKeyRecord({ tenant, plan, key, tenantBudgetMicros: 1_000 }).tenant_limits.budget_micros).toBe(
      1_000,
    );
  });

  it("falls back to the plan's budget without a standing tenant limit, and has no user budget without one", () => {
    for (const tenantBudgetMicros of [undefined, null, 0]) {
      const record = buildKeyRecord({ tenant, plan, key, tenantBudgetMicros, userBudgetMicros: null });
      expect(record.tenant_limits.budget_micros).toBe(50_000_000);
      expect(record).not.toHaveProperty("user_budget_micros");
    }
    expect(
      buildKeyRecord({ tenant, plan: null, key, tenantBudgetMicros: 3_000 }).tenant_limits.budget_micros,
    ).toBe(3_000);
    expect(buildKeyRecord({ tenant, plan, key, userBudgetMicros: 0 })).not.toHaveProperty(
      "user_budget_micros",
    );
  });

  it("ignores a user budget for a key that belongs to no user", () => {
    const record = buildKeyRecord({ tenant, plan, key: { ...key, user: "" }, userBudgetMicros: 250_000 });
    expect(record.user_id).toBeNull();
    expect(record).not.toHaveProperty("user_budget_micros");
  });

  it("carries the subscription's period anchor day, and none for calendar months", () => {
    const anchored = buildKeyRecord({ tenant, plan, key, periodAnchorDay: 15 });
    expect(anchored.tenant_limits.period_anchor_day).toBe(15);
    expect(KeyRecord.parse(anchored)).toEqual(anchored);
    for (const periodAnchorDay of [undefined, null]) {
      expect(buildKeyRecord({ tenant, plan, key, periodAnchorDay }).tenant_limits).not.toHaveProperty(
        "period_anchor_day",
      );
    }
  });

  it("marks revoked keys and every key of an inactive tenant as revoked", () => {
    expect(
      buildKeyRecord({ tenant, plan, key: { ...key, revoked_at: "2026-11-01 00:00:00.000Z" } }).revoked,
    ).toBe(true);
    expect(buildKeyRecord({ tenant: { ...tenant, status: "suspended" }, plan, key }).revoked).toBe(true);
  });
});
