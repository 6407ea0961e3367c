import { checkTierAccess, TIERS } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { loadSeedData } from "../index.ts";

const { plans, models } = loadSeedData();

describe("seed data (infra/seed)", () => {
  it("has one plan per tier with the seeds' prices, budgets and query limits", () => {
    expect(plans.map((p) => p.tier).sort()).toEqual([...TIERS].sort());
    const bySlug = Object.fromEntries(plans.map((p) => [p.slug, p]));
    expect(bySlug.free).toMatchObject({ price_micros: 0, query_limit: 50 });
    expect(bySlug.starter).toMatchObject({
      price_micros: 9_990_000,
      monthly_budget_micros: 25_000_000,
      max_users: 1,
    });
    expect(bySlug.professional).toMatchObject({
      tier: "pro",
      price_micros: 29_990_000,
      monthly_budget_micros: 100_000_000,
      max_users: 5,
    });
    expect(bySlug.team).toMatchObject({ price_micros: 99_000_000, query_limit: 5_000 });
    expect(bySlug.enterprise).toMatchObject({
      query_limit: null,
      monthly_budget_micros: null,
      max_users: null,
    });
    for (const plan of plans) expect(plan.markup_pct).toBe(20);
  });

  it("assigns the seed-003 example tiers: gpt-5 enterprise, claude-3.5-sonnet and gemini-2.0-pro pro", () => {
    const tierOf = (id: string) => models.find((m) => m.model_id === id)?.required_tier;
    expect([tierOf("gpt-5"), tierOf("claude-3.5-sonnet"), tierOf("gemini-2.0-pro")]).toEqual([
      "enterprise",
      "pro",
      "pro",
    ]);
    const sonnet = models.find((m) => m.model_id === "claude-3.5-sonnet");
    if (!sonnet) throw new Error("claude-3.5-sonnet missing");
    expect(checkTierAccess("free", sonnet).allowed).toBe(false);
    expect(checkTierAccess("pro", sonnet).allowed).toBe(true);
  });

  it("offers current Claude models that think (reasoning_effort becomes extended thinking only for those)", () => {
    const thinking = models.filter(
      (m) => m.capabilities.includes("reasoning") && m.deployments.some((d) => d.provider === "anthropic"),
    );
    expect(thinking.map((m) => m.model_id).sort()).toEqual(["claude-haiku-4.5", "claude-sonnet-4.5"]);
    for (const model of thinking) expect(model.max_output_tokens).toBeGreaterThan(32_768 + 4_096);
  });

  it("gives every model unique ids and at least one free model per capability a demo needs", () => {
    expect(new Set(models.map((m) => m.model_id)).size).toBe(models.length);
    const free = models.filter((m) => m.required_tier === "free");
    expect(free.some((m) => m.capabilities.includes("chat"))).toBe(true);
    expect(free.some((m) => m.capabilities.includes("embeddings"))).toBe(true);
  });
});
