import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RouterStack, startRouterStack } from "./stack.ts";

// The router as a process, driven by the official OpenAI SDK, against each provider's emulator.
let stack: RouterStack;
let client: OpenAI;
// The emulators are plain HTTP, so the router reaches them with its HTTP/1.1 client; a second router calls
// them through fetch, the path of HTTPS providers and proxies.
const clients: Record<"http1" | "fetch", OpenAI> = {} as Record<"http1" | "fetch", OpenAI>;

beforeAll(async () => {
  stack = await startRouterStack();
  client = new OpenAI({ apiKey: stack.key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
  const viaFetch = await stack.startRouter({ UPSTREAM_HTTP_CLIENT: "fetch" });
  clients.http1 = client;
  clients.fetch = new OpenAI({ apiKey: stack.key, baseURL: `${viaFetch.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await stack?.stop();
});

const chatModels = ["gpt-test", "claude-test", "gemini-test", "llama-test", "azure-test"] as const;
const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

const chatCases = chatModels.flatMap((model) => [
  [model, "http1"],
  [model, "fetch"],
]) as Array<[(typeof chatModels)[number], "http1" | "fetch"]>;

describe.each(chatCases)("%s through the OpenAI SDK (upstream via %s)", (model, via) => {
  it("answers a chat completion with content and usage", async () => {
    const client = clients[via];
    const completion = await client.chat.completions.create({
      model,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say hello to the gateway" },
      ],
      max_tokens: 50,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message.role).toBe("assistant");
    expect(completion.choices[0]?.message.content).toContain("hello to the gateway");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("streams a chat completion with the usage chunk last", async () => {
    const client = clients[via];
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Stream me a few words please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toContain("Stream me a few words please");
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(last?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((chunk) => !chunk.usage)).toBe(true);
    expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason === "stop")).toBe(true);
  });

  it("streams without a usage chunk when the client did not ask for one", async () => {
    const client = clients[via];
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "hi there" }],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((chunk) => !chunk.usage && chunk.choices.length > 0)).toBe(true);
  });

  it("returns tool calls, streamed too", async () => {
    const client = clients[via];
    const request = {
      model,
      messages: [{ role: "user" as const, content: "What is the weather in Paris?" }],
      tools: [weatherTool],
    };
    const completion = await client.chat.completions.create(request);
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call?.type).toBe("function");
    if (call?.type !== "function") throw new Error("expected a function call");
    expect(call.function.name).toBe("get_weather");
    expect(() => JSON.parse(call.function.arguments)).not.toThrow();

    const stream = await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let name = "";
    let args = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += delta.function?.name ?? "";
        args += delta.function?.arguments ?? "";
      }
      usage = chunk.usage ?? usage;
    }
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual(JSON.parse(call.function.arguments));
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("streams a call to a tool that takes no arguments with the arguments {}", async () => {
    const clock = {
      type: "function" as const,
      function: { name: "get_time", parameters: { type: "object", properties: {} } },
    };
    const stream = await clients[via].chat.completions.create({
      model,
      messages: [{ role: "user", content: "What time is it?" }],
      tools: [clock],
      stream: true,
    });
    let name = "";
    let args = "";
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += delta.function?.name ?? "";
        args += delta.function?.arguments ?? "";
      }
    }
    expect(name).toBe("get_time");
    expect(args).toBe("{}");
  });
});

describe("sampling parameters", () => {
  it("answers a Claude chat that sets both temperature and top_p, sending Anthropic the temperature only", async () => {
    const completion = await client.chat.completions.create({
      model: "claude-test",
      messages: [{ role: "user", content: "Say hello" }],
      temperature: 0.4,
      top_p: 0.9,
    });
    expect(completion.choices[0]?.message.content).toContain("Say hello");
    const sent = stack.emulators.anthropic.requests.at(-1)?.body as Record<string, unknown>;
    expect(sent.temperature).toBe(0.4);
    expect(sent).not.toHaveProperty("top_p");
  });
});

describe("legacy completions", () => {
  it.each(["instruct-test", "claude-test", "llama-test"])(
    "completes a prompt with %s (native or through chat)",
    async (model) => {
      const completion = await client.completions.create({
        model,
        prompt: "Complete this sentence",
        max_tokens: 30,
      });
      expect(completion.object).toBe("text_completion");
      expect(completion.choices[0]?.text).toContain("Complete this sentence");
      expect(completion.usage?.prompt_tokens).toBeGreaterThan(0);
    },
  );

  it("streams a completion", async () => {
    const stream = await client.completions.create({
      model: "claude-test",
      prompt: "Tell a story",
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toContain("Tell a story");
  });
});

describe("embeddings", () => {
  it.each(["embed-test", "gemini-embed-test", "ollama-embed-test"])("embeds text with %s", async (model) => {
    const result = await client.embeddings.create({ model, input: ["first text", "second text"] });
    expect(result.data).toHaveLength(2);
    expect(result.data[1]?.index).toBe(1);
    expect(result.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
  });

  const embed = async (model: string, input: unknown) => {
    const res = await fetch(`${stack.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model, input }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; total_tokens: number } };
    return { usage: body.usage, estimated: res.headers.get("x-cloudfreedom-usage-estimated") };
  };

  it("bills token-id input by its length when the provider reports no usage, and says so in the body", async () => {
    stack.emulators.openai.enqueue({ omitUsage: true });
    const answer = await embed("embed-test", [
      [101, 2023, 2003, 1037, 3231],
      [7592, 2088],
    ]);
    expect(answer).toEqual({ usage: { prompt_tokens: 7, total_tokens: 7 }, estimated: "true" });
  });

  it("answers with the usage it counted and billed, not the provider's guess (Gemini reports none)", async () => {
    // o200k: "first text" and "second text" are two tokens each.
    const answer = await embed("gemini-embed-test", ["first text", "second text"]);
    expect(answer).toEqual({ usage: { prompt_tokens: 4, total_tokens: 4 }, estimated: "true" });
  });
});

describe("models", () => {
  it("lists the catalog in the OpenAI shape with tier fields", async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(["gpt-test", "claude-test", "embed-test"]));
    const raw = (await (
      await fetch(`${stack.url}/v1/models`, { headers: { authorization: `Bearer ${stack.key}` } })
    ).json()) as {
      object: string;
      total: number;
      user_tier: string;
      data: Array<{ id: string; object: string; required_tier: string; access_status: string }>;
    };
    expect(raw.object).toBe("list");
    expect(raw.total).toBe(raw.data.length);
    expect(raw.user_tier).toBe("pro");
    expect(raw.data.find((m) => m.id === "enterprise-test")).toMatchObject({
      object: "model",
      required_tier: "enterprise",
      access_status: "upgrade_required",
    });
    expect(raw.data.find((m) => m.id === "gpt-test")).toMatchObject({
      access_status: "allowed",
      name: "gpt-test",
    });
    expect((raw as unknown as { models: unknown[] }).models).toEqual(raw.data);
  });

  it("says which models have no configured provider (provider_configured), and such a model answers 503", async () => {
    const res = await fetch(`${stack.url}/v1/models`);
    const { data } = (await res.json()) as { data: Array<{ id: string; provider_configured: boolean }> };
    expect(data.find((m) => m.id === "unconfigured-test")).toMatchObject({ provider_configured: false });
    expect(data.find((m) => m.id === "fallback-test")).toMatchObject({ provider_configured: true });
    expect(data.find((m) => m.id === "partly-configured-test")).toMatchObject({ provider_configured: true });
    expect(data.filter((m) => !m.provider_configured).map((m) => m.id)).toEqual(["unconfigured-test"]);
    const one = await fetch(`${stack.url}/v1/models/unconfigured-test`);
    expect(await one.json()).toMatchObject({ id: "unconfigured-test", provider_configured: false });
    await expect(
      client.chat.completions.create({
        model: "unconfigured-test",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toMatchObject({ status: 503, message: expect.stringContaining("configure nowhere") });
    // Not an outage that heals by itself: the SDKs are told not to retry it.
    const raw = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "unconfigured-test", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(raw.status).toBe(503);
    expect(raw.headers.get("x-should-retry")).toBe("false");
    // A model with one configured provider among its deployments is served by it.
    const served = await client.chat.completions.create({
      model: "partly-configured-test",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(served.choices[0]?.message.content).toBe("Echo: hi");
  });

  it("tells a model the key's allowlist shuts out (key_allowed) from one the plan does (upgrade_required)", async () => {
    const narrow = await stack.newKey({ models: ["gpt-test"] });
    const res = await fetch(`${stack.url}/v1/models`, { headers: { authorization: `Bearer ${narrow}` } });
    const { data } = (await res.json()) as {
      data: Array<{ id: string; access_status: string; key_allowed: boolean }>;
    };
    const status = (id: string) => data.find((m) => m.id === id);
    expect(status("gpt-test")).toMatchObject({ access_status: "allowed", key_allowed: true });
    expect(status("claude-test")).toMatchObject({ access_status: "allowed", key_allowed: false });
    expect(status("enterprise-test")).toMatchObject({
      access_status: "upgrade_required",
      key_allowed: false,
    });
  });

  it("retrieves one model and 404s an unknown one", async () => {
    expect((await client.models.retrieve("claude-test")).id).toBe("claude-test");
    await expect(client.models.retrieve("no-such-model")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe("errors surface as the SDK's classes", () => {
  it("401 for a bad key", async () => {
    const bad = new OpenAI({ apiKey: "cf_live_nope", baseURL: `${stack.url}/v1`, maxRetries: 0 });
    await expect(
      bad.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("403 for a model above the key's tier, with the tier contract", async () => {
    const error = await client.chat.completions
      .create({ model: "enterprise-test", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe("model_access_restricted");
  });

  it("404 model_not_found for an unknown model", async () => {
    const error = await client.chat.completions
      .create({ model: "nope", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
  });

  it("400 naming the field", async () => {
    const error = await client.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "x" }], temperature: 9 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("temperature");
  });

  it("429 when the provider keeps rate limiting, with Retry-After", async () => {
    stack.emulators.anthropic.enqueue({ status: 429, headers: { "retry-after": "0" } }, 3);
    const error = await client.chat.completions
      .create({ model: "claude-test", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toBe("0");
  });

  it("5xx when the provider keeps failing", async () => {
    stack.emulators.gemini.enqueue({ status: 500 }, 3);
    const error = await client.chat.completions
      .create({ model: "gemini-test", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(502);
  });
});
