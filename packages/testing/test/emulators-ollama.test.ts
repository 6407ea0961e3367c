import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EmulatorHandle, embedText, startOllamaEmulator } from "../src/emulators/index.ts";
import { list, obj, parseNdjson, post, readAll } from "./emulators-helpers.ts";

let ollama: EmulatorHandle;
const chat = (body: Record<string, unknown>) =>
  post(`${ollama.url}/api/chat`, { model: "llama3.2", ...body });
const hello = [{ role: "user", content: "hello there, world!" }];
const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } } },
    },
  },
];
const stats = (prompt: number, output: number) => ({
  total_duration: 1_000_000 + prompt * 100_000 + output * 1_000_000,
  load_duration: 1_000_000,
  prompt_eval_count: prompt,
  prompt_eval_duration: prompt * 100_000,
  eval_count: output,
  eval_duration: output * 1_000_000,
});

beforeAll(async () => {
  ollama = await startOllamaEmulator();
});
afterAll(() => ollama.stop());
beforeEach(() => ollama.reset());

describe("Ollama emulator: /api/chat", () => {
  it("streams NDJSON by default: content lines, then a done line with counts and durations", async () => {
    const response = await chat({ messages: hello });
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = parseNdjson(await response.text()).map(obj);
    const partial = { model: "llama3.2", created_at: expect.any(String), done: false };
    expect(lines).toEqual([
      { ...partial, message: { role: "assistant", content: "Echo: hello" } },
      { ...partial, message: { role: "assistant", content: " there, world" } },
      { ...partial, message: { role: "assistant", content: "!" } },
      {
        model: "llama3.2",
        created_at: expect.any(String),
        message: { role: "assistant", content: "" },
        done_reason: "stop",
        done: true,
        ...stats(5, 7),
      },
    ]);
  });

  it("answers one object with stream:false, and length when num_predict cuts it", async () => {
    const body = await (await chat({ messages: hello, stream: false, options: { num_predict: 3 } })).json();
    expect(body).toEqual({
      model: "llama3.2",
      created_at: expect.any(String),
      message: { role: "assistant", content: "Echo: hello" },
      done_reason: "length",
      done: true,
      ...stats(5, 3),
    });
  });

  it("returns tool_calls with object arguments, streamed as one line", async () => {
    const body = obj(
      await (await chat({ messages: [{ role: "user", content: "Paris" }], tools, stream: false })).json(),
    );
    expect(body.message).toEqual({
      role: "assistant",
      content: "",
      tool_calls: [{ function: { name: "get_weather", arguments: { city: "Paris" } } }],
    });
    const lines = parseNdjson(
      await (await chat({ messages: [{ role: "user", content: "Paris" }], tools })).text(),
    ).map(obj);
    expect(lines).toHaveLength(2);
    expect(obj(lines[0]?.message).tool_calls).toEqual([
      { function: { name: "get_weather", arguments: { city: "Paris" } } },
    ]);
    expect(lines[1]?.done).toBe(true);
  });

  it("thinks when asked: message.thinking, streamed in lines before the answer's, counted in eval_count", async () => {
    const thought = "Let me think about this request: hello there, world!";
    const body = await (
      await chat({ model: "qwen3:8b", messages: hello, think: true, stream: false })
    ).json();
    expect(body).toMatchObject({
      message: { role: "assistant", content: "Echo: hello there, world!", thinking: thought },
      ...stats(5, 7 + 12), // 12 tokens of thinking
    });
    const lines = parseNdjson(await (await chat({ model: "qwen3:8b", messages: hello, think: true })).text())
      .map(obj)
      .map((line) => obj(line.message));
    const thinking = lines.map((message) => message.thinking ?? "").join("");
    const content = lines.map((message) => message.content).join("");
    expect({ thinking, content }).toEqual({ thinking: thought, content: "Echo: hello there, world!" });
    const lastThinking = lines.findLastIndex((message) => message.thinking);
    expect(lastThinking).toBeLessThan(lines.findIndex((message) => message.content));
    // think: false, or no think at all, answers without thinking.
    for (const think of [{ think: false }, {}]) {
      const plain = obj(await (await chat({ messages: hello, stream: false, ...think })).json());
      expect(plain.message).toEqual({ role: "assistant", content: "Echo: hello there, world!" });
    }
  });

  it("takes a think level from gpt-oss only, and refuses one elsewhere as Ollama does", async () => {
    const oss = await chat({ model: "gpt-oss:20b", messages: hello, think: "high", stream: false });
    expect(obj(obj(await oss.json()).message).thinking).toContain("Let me think");
    const refused = await chat({ model: "qwen3:8b", messages: hello, think: "low", stream: false });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'think value "low" is not supported for this model' });
  });

  it("answers 404 for a model that is not pulled, and 400 without a model", async () => {
    const missing = await chat({ model: "mistral", messages: hello });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'model "mistral" not found, try pulling it first' });
    const none = await post(`${ollama.url}/api/chat`, { messages: hello });
    expect(await none.json()).toEqual({ error: "model is required" });
  });

  it("injects status errors, mid-stream error lines, disconnects and missing counts", async () => {
    ollama.enqueue({ status: 503 });
    const busy = await chat({ messages: hello });
    expect(busy.status).toBe(503);
    expect(obj(await busy.json())).toHaveProperty("error");
    ollama.enqueue({ failAfterChunks: 2 });
    const lines = parseNdjson(await (await chat({ messages: hello })).text()).map(obj);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toEqual({ error: expect.any(String) });
    ollama.enqueue({ failAfterChunks: 0 });
    const first = await chat({ messages: hello });
    expect(first.status).toBe(200);
    expect(parseNdjson(await first.text())).toEqual([
      { error: "an error was encountered while running the model: unexpected EOF" },
    ]);
    ollama.enqueue({ failAfterChunks: 1, mode: "disconnect" });
    const cut = await readAll(await chat({ messages: hello }));
    expect(cut.error).toBeInstanceOf(Error);
    expect(parseNdjson(cut.text)).toHaveLength(1);
    ollama.enqueue({ omitUsage: true });
    const quiet = obj(await (await chat({ messages: hello, stream: false })).json());
    expect(quiet).not.toHaveProperty("eval_count");
    expect(quiet).not.toHaveProperty("prompt_eval_count");
  });
});

describe("Ollama emulator: embed and tags", () => {
  it("embeds with prompt_eval_count and lists installed models", async () => {
    const body = await (
      await post(`${ollama.url}/api/embed`, { model: "nomic-embed-text", input: ["a b", "c"], dimensions: 4 })
    ).json();
    expect(body).toEqual({
      model: "nomic-embed-text",
      embeddings: [embedText("a b", 4), embedText("c", 4)],
      total_duration: expect.any(Number),
      load_duration: expect.any(Number),
      prompt_eval_count: 3,
    });
    const tags = obj(await (await fetch(`${ollama.url}/api/tags`)).json());
    expect(list(tags.models).map((model) => obj(model).name)).toEqual([
      "llama3.2:latest",
      "qwen2.5:0.5b",
      "nomic-embed-text:latest",
      "qwen3:8b",
      "gpt-oss:20b",
    ]);
    expect(obj(list(tags.models)[0]).details).toMatchObject({ format: "gguf", family: "llama" });
    const unknown = await fetch(`${ollama.url}/api/nothing`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe("404 page not found");
  });
});
