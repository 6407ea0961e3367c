import { describe, expect, it } from "vitest";
import { checkTierAccess, compareTiers, TIERS, type Tier, TierRule } from "../src/tiers.ts";

const rule = (input: Partial<TierRule>) => TierRule.parse(input);

describe("tier order", () => {
  it("orders free < starter < pro < team < enterprise", () => {
    expect(TIERS).toEqual(["free", "starter", "pro", "team", "enterprise"]);
    expect(compareTiers("free", "starter")).toBeLessThan(0);
    expect(compareTiers("enterprise", "team")).toBeGreaterThan(0);
    expect(compareTiers("pro", "pro")).toBe(0);
  });
});

describe("checkTierAccess", () => {
  it("defaults keep a model without tier fields open to every tier", () => {
    for (const tier of TIERS) expect(checkTierAccess(tier, rule({}))).toEqual({ allowed: true });
  });

  it("minimum mode admits the required tier and everything above, denies below", () => {
    const pro = rule({ required_tier: "pro", tier_restriction_mode: "minimum" });
    const outcome = Object.fromEntries(TIERS.map((t) => [t, checkTierAccess(t, pro).allowed]));
    expect(outcome).toEqual({ free: false, starter: false, pro: true, team: true, enterprise: true });
    expect(checkTierAccess("free", pro)).toEqual({
      allowed: false,
      required_tier: "pro",
      reason: "Requires Pro tier or higher",
    });
  });

  it("minimum mode with enterprise admits enterprise only; with free admits all", () => {
    const ent = rule({ required_tier: "enterprise" });
    expect(TIERS.filter((t) => checkTierAccess(t, ent).allowed)).toEqual(["enterprise"]);
    expect(TIERS.filter((t) => checkTierAccess(t, rule({ required_tier: "free" })).allowed)).toEqual([
      ...TIERS,
    ]);
  });

  it("exact mode admits only the required tier, not higher ones", () => {
    const team = rule({ required_tier: "team", tier_restriction_mode: "exact" });
    expect(TIERS.filter((t) => checkTierAccess(t, team).allowed)).toEqual(["team"]);
    expect(checkTierAccess("enterprise", team)).toEqual({
      allowed: false,
      required_tier: "team",
      reason: "Requires exactly Team tier",
    });
  });

  it("whitelist mode admits listed tiers only, ignoring order and required_tier", () => {
    const wl = rule({
      required_tier: "pro",
      tier_restriction_mode: "whitelist",
      allowed_tiers: ["free", "enterprise"],
    });
    expect(TIERS.filter((t) => checkTierAccess(t, wl).allowed)).toEqual(["free", "enterprise"]);
    const denied = checkTierAccess("pro", wl);
    expect(denied).toEqual({
      allowed: false,
      required_tier: "free",
      reason: "Available to Free, Enterprise tier(s) only",
    });
  });

  it("an empty whitelist admits nobody and names required_tier as the hint", () => {
    const wl = rule({ required_tier: "team", tier_restriction_mode: "whitelist", allowed_tiers: [] });
    for (const tier of TIERS) {
      expect(checkTierAccess(tier as Tier, wl)).toMatchObject({ allowed: false, required_tier: "team" });
    }
  });

  it("rejects unknown tiers and modes at the schema", () => {
    expect(TierRule.safeParse({ required_tier: "gold" }).success).toBe(false);
    expect(TierRule.safeParse({ tier_restriction_mode: "maximum" }).success).toBe(false);
  });
});
