import { ErrorEnvelope } from "@cloudfreedom/shared";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RouterStack, startRouterStack } from "./stack.ts";

// Bad requests and bad keys are refused with a clear error, and no provider is called.
let stack: RouterStack;

beforeAll(async () => {
  stack = await startRouterStack({ MAX_BODY_BYTES: "65536" });
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  for (const emulator of Object.values(stack.emulators)) emulator.reset();
});

const providerCalls = () => Object.values(stack.emulators).reduce((sum, e) => sum + e.counts.requests, 0);

async function post(body: string, key: string | null = stack.key, path = "/v1/chat/completions") {
  const res = await fetch(`${stack.url}${path}`, {
    method: "POST",
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), "content-type": "application/json" },
    body,
  });
  const json: unknown = await res.json();
  // Only error answers are envelopes; a 200 is checked by status alone.
  const envelope = res.status >= 400 ? ErrorEnvelope.parse(json) : ErrorEnvelope.partial().parse({});
  return { status: res.status, body: envelope };
}
const chat = (payload: Record<string, unknown>, key?: string | null) => post(JSON.stringify(payload), key);
const hello = [{ role: "user", content: "hello" }];

describe("bad requests reach no provider", () => {
  it.each([
    ["a missing model", { messages: hello }, "model"],
    [
      "a message with an unknown role",
      { model: "gpt-test", messages: [{ role: "wizard", content: "x" }] },
      "messages.0.role",
    ],
    [
      "a user message without content",
      { model: "gpt-test", messages: [{ role: "user" }] },
      "messages.0.content",
    ],
    ["no messages", { model: "gpt-test", messages: [] }, "messages"],
    ["a negative max_tokens", { model: "gpt-test", messages: hello, max_tokens: -5 }, "max_tokens"],
    [
      "a tool without a name",
      { model: "gpt-test", messages: hello, tools: [{ type: "function", function: {} }] },
      "tools.0.function.name",
    ],
    [
      "an unknown reasoning_effort",
      { model: "gpt-test", messages: hello, reasoning_effort: "maximal" },
      "reasoning_effort",
    ],
  ])("400 for %s, naming the field", async (_name, payload, field) => {
    const res = await chat(payload);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: "validation_failed",
      details: { field },
      error: { param: field, type: "invalid_request_error" },
    });
    expect(providerCalls()).toBe(0);
  });

  it.each([
    ["store", { store: true }, "prompts"],
    ["models", { models: ["openai/gpt-5"] }, "catalog"],
    ["service_tier", { service_tier: "priority" }, "priced"],
    ["modalities", { modalities: ["text", "audio"] }, "audio"],
  ])("400 for the refused parameter %s, saying why", async (field, extra, why) => {
    const res = await chat({ model: "gpt-test", messages: hello, ...extra });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "validation_failed", details: { field } });
    expect(res.body.message).toContain(why);
    expect(providerCalls()).toBe(0);
  });

  it.each([
    [
      "audio input, saying why",
      { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
      "messages.0.content.1.type",
      "does not meter",
    ],
    [
      "a part of unknown type",
      { type: "video_url", video_url: "https://x/y.mp4" },
      "messages.0.content.1.type",
      "'text' | 'image_url'",
    ],
    ["a text part without text", { type: "text" }, "messages.0.content.1.text", "required"],
  ])("400 for %s, naming the content part", async (_name, part, field, why) => {
    const res = await chat({
      model: "gpt-test",
      messages: [{ role: "user", content: [{ type: "text", text: "listen" }, part] }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "validation_failed", details: { field } });
    expect(res.body.message).toContain(why);
    expect(providerCalls()).toBe(0);
  });

  it("forwards only the parameters it meters: unknown fields never reach the provider", async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.key}` },
      body: JSON.stringify({
        model: "gpt-test",
        messages: hello,
        temperature: 0.5,
        x_secret_flag: 1,
        store: false,
      }),
    });
    expect(res.status).toBe(200);
    const sent = stack.emulators.openai.requests[0]?.body as Record<string, unknown>;
    expect(sent).toMatchObject({ model: "gpt-4o-mini", temperature: 0.5, messages: hello });
    expect(sent).not.toHaveProperty("x_secret_flag");
    expect(sent).not.toHaveProperty("store");
  });

  it.each(["none", "minimal", "low", "medium", "high", "xhigh"])(
    "forwards reasoning_effort %s, as OpenAI takes it, to an OpenAI-compatible provider",
    async (effort) => {
      const res = await chat({ model: "gpt-test", messages: hello, reasoning_effort: effort });
      expect(res.status).toBe(200);
      expect(stack.emulators.openai.requests[0]?.body).toMatchObject({ reasoning_effort: effort });
    },
  );

  it("serves /v1/completions for a chat-only model through chat, natively only where the model declares it", async () => {
    const complete = (model: string) =>
      fetch(`${stack.url}/v1/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.key}` },
        body: JSON.stringify({ model, prompt: "Once upon a time" }),
      });
    expect((await complete("gpt-test")).status).toBe(200);
    expect((await complete("instruct-test")).status).toBe(200);
    expect(stack.emulators.openai.requests.map((r) => r.path)).toEqual([
      "/v1/chat/completions",
      "/v1/completions",
    ]);
  });

  it("400 invalid_json for a body that is not JSON", async () => {
    const res = await post('{"model": "gpt-test", "messages": [');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_json");
    expect(providerCalls()).toBe(0);
  });

  it("413 for a body over the limit", async () => {
    const res = await chat({ model: "gpt-test", messages: [{ role: "user", content: "x".repeat(70_000) }] });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("payload_too_large");
    expect(providerCalls()).toBe(0);
  });

  it("404 model_not_found for an unknown model, saying where to look", async () => {
    const res = await chat({ model: "gpt-99", messages: hello });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: "model_not_found", details: { model_id: "gpt-99" } });
    expect(res.body.message).toContain("GET /v1/models");
    expect(providerCalls()).toBe(0);
  });

  it("400 when the model cannot do the operation (chat model asked for embeddings)", async () => {
    const res = await post(JSON.stringify({ model: "gpt-test", input: "x" }), stack.key, "/v1/embeddings");
    expect(res.status).toBe(400);
    expect(res.body.message).toContain("does not support embeddings");
    expect(providerCalls()).toBe(0);
  });

  it("403 model_access_restricted with the tier contract for a model above the tier", async () => {
    const res = await chat({ model: "enterprise-test", messages: hello });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      status: "error",
      code: "model_access_restricted",
      details: {
        model_id: "enterprise-test",
        user_tier: "pro",
        required_tier: "enterprise",
        upgrade_url: expect.stringContaining("http"),
      },
    });
    expect(res.body.message).toBe("Model access restricted: Requires Enterprise tier or higher");
    expect(providerCalls()).toBe(0);
  });
});

describe("keys", () => {
  it("401 without a key", async () => {
    const res = await chat({ model: "gpt-test", messages: hello }, null);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("unauthorized");
  });

  it("403 for a key used on another tenant's address, 200 on its own", async () => {
    const send = (tenant: string) =>
      fetch(`${stack.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.key}`, "x-tenant": tenant },
        body: JSON.stringify({ model: "gpt-test", messages: hello }),
      });
    const other = await send("someone-else");
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ code: "forbidden", details: { tenant: "someone-else" } });
    const slug = (await stack.db.operator.collection("tenants").getOne(stack.tenantId)).slug;
    expect((await send(slug)).status).toBe(200);
  });

  it("401 for an unknown key, saying what to do", async () => {
    expect((await chat({ model: "gpt-test", messages: hello }, "cf_live_not_a_key")).body).toMatchObject({
      code: "invalid_api_key",
      message:
        "This API key is not a known CloudFreedom key: check that you sent the whole key, or create one with POST /v1/keys on the auth service",
    });
  });

  it("401 for a revoked key and for an expired key", async () => {
    const revoked = await stack.newKey({ revoked: true });
    const expired = await stack.newKey({ expiresAt: Date.now() - 1_000 });
    expect((await chat({ model: "gpt-test", messages: hello }, revoked)).body).toMatchObject({
      code: "invalid_api_key",
      message: expect.stringMatching(/^API key revoked: if it was rotated, use the key that replaced it/),
      details: { reason: "revoked" },
    });
    // It says what to do: a rotated key's successor is the usual answer.
    expect((await chat({ model: "gpt-test", messages: hello }, expired)).body).toMatchObject({
      code: "invalid_api_key",
      message: expect.stringMatching(/^API key expired .*rotated.*: use the key that replaced it/),
      details: { reason: "expired" },
    });
    expect(providerCalls()).toBe(0);
  });

  it("403 for a model outside the key's allowlist and for a key without the scope", async () => {
    const narrow = await stack.newKey({ models: ["claude-test"] });
    expect((await chat({ model: "gpt-test", messages: hello }, narrow)).status).toBe(403);
    const billingOnly = await stack.newKey({ scopes: ["billing"] });
    expect((await chat({ model: "gpt-test", messages: hello }, billingOnly)).body).toMatchObject({
      code: "forbidden",
      message: 'This API key lacks the "chat" scope; use a key created with "scopes" including "chat"',
      details: { scope: "chat" },
    });
    expect(providerCalls()).toBe(0);
    // The catalog with a key is the key's view (its access fields): that needs the "models" scope too.
    for (const path of ["/v1/models", "/v1/models/gpt-test"]) {
      const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${billingOnly}` } });
      expect(res.status, path).toBe(403);
      expect(await res.json()).toMatchObject({ code: "forbidden", details: { scope: "models" } });
    }
    expect((await fetch(`${stack.url}/v1/models`)).status).toBe(200);
  });

  it("sees a key revoked in Redis once the invalidation arrives, before its cache TTL", async () => {
    const key = await stack.newKey();
    expect((await chat({ model: "gpt-test", messages: hello }, key)).status).toBe(200);
    const { hashApiKey, redisKeys, INVALIDATE_CHANNEL } = await import("@cloudfreedom/shared");
    const hash = await hashApiKey(key);
    const stored = JSON.parse((await stack.redisDb.redis.get(redisKeys.keyRecord(hash))) ?? "{}") as Record<
      string,
      unknown
    >;
    await stack.redisDb.redis.set(redisKeys.keyRecord(hash), JSON.stringify({ ...stored, revoked: true }));
    // Junk on the channel is ignored, not fatal.
    for (const junk of ["null", "not json", '{"kind":"nope"}', '{"kind":"key"}']) {
      await stack.redisDb.redis.publish(INVALIDATE_CHANNEL, junk);
    }
    await stack.redisDb.redis.publish(INVALIDATE_CHANNEL, JSON.stringify({ kind: "key", key_hash: hash }));
    // Poll instead of sleeping a fixed time; the LRU TTL (5 s) is far longer than this wait.
    let outcome = await chat({ model: "gpt-test", messages: hello }, key);
    for (let i = 0; i < 20 && outcome.status === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      outcome = await chat({ model: "gpt-test", messages: hello }, key);
    }
    expect(outcome.body).toMatchObject({ code: "invalid_api_key", details: { reason: "revoked" } });
  });
});
