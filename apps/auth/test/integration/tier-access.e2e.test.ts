import { ErrorEnvelope } from "@cloudfreedom/shared";
import { decodeJwt } from "jose";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byId, chat, type Listed, routerCall, type TierUser, tierUser } from "./e2e-helpers.ts";
import { startTierStack, type TierStack } from "./e2e-stack.ts";

// Seed 003 "Model Tier Access Control", post-deployment tests 1–8, against auth and router running as processes:
// free, pro and enterprise users sign up and log in through auth, create keys, list models and are denied or allowed.
let stack: TierStack;
let free: TierUser;
let pro: TierUser;
let enterprise: TierUser;
const router = (path: string, key: string | null) => routerCall(stack.router.url, path, key);

beforeAll(async () => {
  stack = await startTierStack();
  [free, pro, enterprise] = await Promise.all([
    tierUser(stack, "free"),
    tierUser(stack, "pro"),
    tierUser(stack, "enterprise"),
  ]);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe("seed 003 post-deployment tests", () => {
  it("Test 1: every model carries its tier fields in the catalog", async () => {
    const rows = await stack.db.operator.collection("models").listAll({ sort: "model_id" });
    expect(rows.map((r) => [r.model_id, r.required_tier, r.tier_restriction_mode, r.allowed_tiers])).toEqual([
      ["claude-3.5-sonnet", "pro", "minimum", ["pro", "enterprise"]],
      ["gemini-2.0-pro", "pro", "minimum", ["pro", "enterprise"]],
      ["gpt-5", "enterprise", "minimum", ["enterprise"]],
    ]);
  });

  it("login tokens carry the tier the subscription gives", () => {
    expect(decodeJwt(free.token)).toMatchObject({ tier: "free", role: "owner" });
    expect(decodeJwt(pro.token)).toMatchObject({ tier: "pro" });
    expect(decodeJwt(enterprise.token)).toMatchObject({ tier: "enterprise" });
  });

  it("Test 2: a free user lists every model with required_tier and access_status, user_tier and total", async () => {
    const res = await router("/v1/models", free.key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: "list", total: 3, user_tier: "free" });
    const models = byId(res.body);
    expect(models["gpt-5"]).toMatchObject({
      id: "gpt-5",
      name: "GPT-5",
      required_tier: "enterprise",
      access_status: "upgrade_required",
    });
    // The seed's shape (`models`) alongside OpenAI's (`data`).
    expect((res.body as { models: unknown }).models).toEqual((res.body as { data: unknown }).data);
    expect(models["claude-3.5-sonnet"]).toMatchObject({
      required_tier: "pro",
      access_status: "upgrade_required",
    });
  });

  it("Test 3: a free user asking for a pro model gets 403 model_access_restricted, and no provider is called", async () => {
    stack.openai.reset();
    const res = await chat(stack.router.url, free.key, "claude-3.5-sonnet");
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      status: "error",
      code: "model_access_restricted",
      message: "Model access restricted: Requires Pro tier or higher",
      details: {
        model_id: "claude-3.5-sonnet",
        user_tier: "free",
        required_tier: "pro",
        upgrade_url: expect.any(String),
      },
      timestamp: expect.any(String),
    });
    expect(stack.openai.counts.requests).toBe(0);
  });

  it("Test 4: a pro user is allowed pro models and still denied enterprise ones", async () => {
    const res = await router("/v1/models", pro.key);
    expect(res.body.user_tier).toBe("pro");
    const models = byId(res.body);
    expect(models["gpt-5"]?.access_status).toBe("upgrade_required");
    expect(models["claude-3.5-sonnet"]?.access_status).toBe("allowed");
    expect(models["gemini-2.0-pro"]?.access_status).toBe("allowed");
  });

  it("Test 5: a pro user's completion with a pro model answers 200 (through the OpenAI SDK)", async () => {
    const client = new OpenAI({ apiKey: pro.key, baseURL: `${stack.router.url}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: "claude-3.5-sonnet",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 50,
    });
    expect(completion).toMatchObject({ object: "chat.completion", model: "claude-3.5-sonnet" });
    expect(completion.choices[0]?.message.role).toBe("assistant");
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("Test 6: an enterprise user is allowed every model", async () => {
    const res = await router("/v1/models", enterprise.key);
    expect((res.body.data as Listed[]).map((m) => ({ id: m.id, access_status: m.access_status }))).toEqual(
      expect.arrayContaining([
        { id: "gpt-5", access_status: "allowed" },
        { id: "claude-3.5-sonnet", access_status: "allowed" },
        { id: "gemini-2.0-pro", access_status: "allowed" },
      ]),
    );
    expect((await chat(stack.router.url, enterprise.key, "gpt-5")).status).toBe(200);
  });

  it("Test 7: the denial is 403 application/json with exactly the seed's envelope (plus the OpenAI error object)", async () => {
    const res = await chat(stack.router.url, free.key, "gpt-5");
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const envelope = ErrorEnvelope.parse(res.body);
    expect(Object.keys(envelope.details).sort()).toEqual([
      "model_id",
      "required_tier",
      "upgrade_url",
      "user_tier",
    ]);
    expect(envelope).toMatchObject({
      status: "error",
      code: "model_access_restricted",
      details: { model_id: "gpt-5", user_tier: "free", required_tier: "enterprise" },
    });
    expect(envelope.error).toMatchObject({ type: "permission_error", code: "model_access_restricted" });
    expect(Number.isNaN(Date.parse(envelope.timestamp))).toBe(false);
  });

  it("Test 8: without credentials /v1/models still lists the models, with the tier fields but no access status", async () => {
    const res = await router("/v1/models", null);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: "list", total: 3 });
    expect(res.body).not.toHaveProperty("user_tier");
    for (const entry of res.body.data as Array<Record<string, unknown>>) {
      expect(entry).toMatchObject({
        id: expect.any(String),
        object: "model",
        owned_by: "openai",
        capabilities: ["chat"],
        required_tier: expect.any(String),
      });
      expect(entry).not.toHaveProperty("access_status");
    }
  });
});
