import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EmulatorHandle, embedText, startOpenAIEmulator } from "../src/emulators/index.ts";
import { choice, list, obj, post, sseJson } from "./emulators-helpers.ts";

let openai: EmulatorHandle;
const auth = (): Record<string, string> => ({ authorization: `Bearer ${openai.apiKey}` });
const hello = [{ role: "user", content: "hello there, world!" }];

beforeAll(async () => {
  openai = await startOpenAIEmulator();
});
afterAll(() => openai.stop());
beforeEach(() => openai.reset());

describe("OpenAI emulator: other endpoints", () => {
  it("serves legacy completions with the default 16-token limit, streaming too", async () => {
    const prompt = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen";
    const body = obj(
      await (
        await post(`${openai.url}/v1/completions`, { model: "gpt-3.5-turbo-instruct", prompt }, auth())
      ).json(),
    );
    expect(body).toMatchObject({ object: "text_completion", model: "gpt-3.5-turbo-instruct" });
    expect(choice(body)).toEqual({
      text: `Echo: ${prompt.split(" ").slice(0, 14).join(" ")}`,
      index: 0,
      logprobs: null,
      finish_reason: "length",
    });
    expect(body.usage).toEqual({ prompt_tokens: 15, completion_tokens: 16, total_tokens: 31 });

    const stream = await post(
      `${openai.url}/v1/completions`,
      { model: "m", prompt: "hi", stream: true, stream_options: { include_usage: true } },
      auth(),
    );
    const chunks = sseJson(await stream.text());
    expect(chunks.slice(0, -1).map((chunk) => obj(chunk).choices)).toEqual([
      [{ text: "Echo: hi", index: 0, logprobs: null, finish_reason: null }],
      [{ text: "", index: 0, logprobs: null, finish_reason: "stop" }],
      [],
    ]);
    expect(obj(chunks[2]).usage).toEqual({ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
  });

  it("returns deterministic embeddings as floats or base64 float32", async () => {
    const url = `${openai.url}/v1/embeddings`;
    const floats = obj(
      await (
        await post(url, { model: "text-embedding-3-small", input: ["a b", "c"], dimensions: 8 }, auth())
      ).json(),
    );
    expect(floats).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: embedText("a b", 8) },
        { object: "embedding", index: 1, embedding: embedText("c", 8) },
      ],
      model: "text-embedding-3-small",
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
    const encoded = obj(
      await (
        await post(url, { model: "m", input: "a b", dimensions: 8, encoding_format: "base64" }, auth())
      ).json(),
    );
    const base64 = String(obj(list(encoded.data)[0]).embedding);
    const bytes = Buffer.from(base64, "base64");
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, 8))).toEqual(embedText("a b", 8));
  });

  it("lists models and answers unknown URLs in OpenAI's shape", async () => {
    const models = obj(await (await fetch(`${openai.url}/v1/models`, { headers: auth() })).json());
    expect(models.object).toBe("list");
    expect(list(models.data).map((model) => obj(model).id)).toContain("gpt-4o-mini");
    const missing = await fetch(`${openai.url}/v1/models/nope`, { headers: auth() });
    expect(obj(await missing.json()).error).toMatchObject({ code: "model_not_found" });
    const unknown = await post(`${openai.url}/v1/nothing`, {}, auth());
    expect(unknown.status).toBe(404);
    expect(obj(await unknown.json()).error).toMatchObject({ message: "Invalid URL (POST /v1/nothing)" });
  });
});

describe("OpenAI emulator: Azure deployment paths", () => {
  const azure = (path: string, body: unknown, headers: Record<string, string>) =>
    post(`${openai.url}/openai/deployments/prod-4o/${path}`, body, headers);

  it("answers with the deployment as model and Azure's prompt filter results", async () => {
    const response = await azure(
      "chat/completions?api-version=2024-10-21",
      { messages: hello },
      { "api-key": openai.apiKey },
    );
    const body = obj(await response.json());
    expect(body).toMatchObject({
      object: "chat.completion",
      model: "prod-4o",
      prompt_filter_results: [{ prompt_index: 0 }],
    });
    const stream = await azure(
      "chat/completions?api-version=2024-10-21",
      { messages: hello, stream: true },
      { "api-key": openai.apiKey },
    );
    const first = obj(sseJson(await stream.text())[0]);
    expect(first).toMatchObject({ choices: [], created: 0, id: "", model: "", object: "" });
    expect(openai.requests.at(-1)?.query).toEqual({ "api-version": "2024-10-21" });
  });

  it("rejects a missing api-version (Resource not found) and a wrong api-key in Azure's shape", async () => {
    const noVersion = await azure("chat/completions", { messages: hello }, { "api-key": openai.apiKey });
    expect(noVersion.status).toBe(404);
    expect(await noVersion.json()).toEqual({ error: { code: "404", message: "Resource not found" } });
    const badKey = await azure("embeddings?api-version=2024-10-21", { input: "x" }, { "api-key": "nope" });
    expect(badKey.status).toBe(401);
    expect(obj(obj(await badKey.json()).error).code).toBe("401");
  });
});
