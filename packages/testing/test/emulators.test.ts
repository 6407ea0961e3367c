import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  countTokens,
  type EmulatorHandle,
  splitChunks,
  startEmulators,
  startOpenAIEmulator,
  truncateTokens,
} from "../src/emulators/index.ts";
import { choice, obj, post, readAll, sseJson } from "./emulators-helpers.ts";

describe("emulator tokenizer", () => {
  it("counts word runs and single punctuation characters, never whitespace", () => {
    expect(countTokens("")).toBe(0);
    expect(countTokens("   ")).toBe(0);
    expect(countTokens("Echo: hello, world!")).toBe(6);
    expect(countTokens("snake_case x2 día")).toBe(3);
    expect(countTokens('{"a":1}')).toBe(7);
  });

  it("truncates to whole tokens and splits into chunks that concatenate back exactly", () => {
    expect(truncateTokens("Echo: hello there", 3)).toEqual({ text: "Echo: hello", truncated: true });
    expect(truncateTokens("Echo: hi", 5)).toEqual({ text: "Echo: hi", truncated: false });
    const text = "Echo: the quick, brown fox jumps  over\nthe lazy dog. ";
    const chunks = splitChunks(text);
    expect(chunks.join("")).toBe(text);
    expect(chunks.slice(0, -1).every((chunk) => countTokens(chunk) === 3)).toBe(true);
  });
});

describe("emulator core: behaviours, recording, counters", () => {
  let emulator: EmulatorHandle;
  const chat = (extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
    post(
      `${emulator.url}/v1/chat/completions?trace=1`,
      { model: "m", messages: [{ role: "user", content: "hi" }], ...extra },
      { authorization: `Bearer ${emulator.apiKey}`, "x-test": "yes" },
      signal,
    );

  beforeAll(async () => {
    emulator = await startOpenAIEmulator({ apiKey: "sk-core-test" });
  });
  afterAll(() => emulator.stop());
  beforeEach(() => emulator.reset());

  it("records method, path, query, headers and parsed body, and counts requests", async () => {
    await chat();
    expect(emulator.apiKey).toBe("sk-core-test");
    expect(emulator.requests).toHaveLength(1);
    expect(emulator.requests[0]).toMatchObject({
      method: "POST",
      path: "/v1/chat/completions",
      query: { trace: "1" },
      headers: { "x-test": "yes", authorization: "Bearer sk-core-test" },
      body: { model: "m", messages: [{ role: "user", content: "hi" }] },
    });
    await chat({ stream: true }).then((response) => response.text());
    expect(emulator.counts).toEqual({ requests: 2, streams: 1, injected: 0, aborted: 0 });
  });

  it("applies queued behaviours FIFO for N requests, then the default, and reset clears them", async () => {
    emulator.enqueue({ status: 500 }, 2);
    emulator.enqueue({ reply: "custom text" });
    emulator.setDefault({ status: 503 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await chat()).status);
    expect(statuses).toEqual([500, 500, 200, 503, 503]);
    expect(emulator.counts.injected).toBe(4);
    emulator.reset();
    expect((await chat()).status).toBe(200);
    expect(emulator.requests).toHaveLength(1);
  });

  it("replies with custom text and a forced tool call", async () => {
    emulator.enqueue({ reply: "custom text" });
    const text = await (await chat()).json();
    expect(obj(choice(text).message).content).toBe("custom text");
    emulator.enqueue({ toolCall: { name: "lookup", arguments: { id: 7 } } });
    const call = await (await chat()).json();
    expect(obj(choice(call).message).tool_calls).toEqual([
      { id: expect.any(String), type: "function", function: { name: "lookup", arguments: '{"id":7}' } },
    ]);
  });

  it("delays the answer, and paces stream chunks, without changing the content", async () => {
    emulator.enqueue({ delayMs: 30 });
    expect((await chat()).status).toBe(200);
    emulator.enqueue({ chunkDelayMs: 5 });
    const events = sseJson(await (await chat({ stream: true })).text());
    expect(events.at(-1)).toBe("[DONE]");
    expect(events).toHaveLength(4);
  });

  it("hangs until the client times out, and counts the abandoned request", async () => {
    emulator.enqueue({ hang: true });
    await expect(chat({}, AbortSignal.timeout(100))).rejects.toThrow(/abort|timeout/i);
    await vi.waitFor(() => expect(emulator.aborted).toBe(1));
    expect(emulator.counts.injected).toBe(1);
  });

  it("counts a client that goes away during a delay or a slow stream", async () => {
    emulator.enqueue({ delayMs: 5_000 });
    await expect(chat({}, AbortSignal.timeout(50))).rejects.toThrow();
    emulator.enqueue({ chunkDelayMs: 1_000 });
    const controller = new AbortController();
    const response = await chat({ stream: true }, controller.signal);
    const reader = response.body?.getReader();
    await reader?.read();
    controller.abort();
    await vi.waitFor(() => expect(emulator.aborted).toBe(2));
  });

  it("resets the connection before any response with disconnect", async () => {
    emulator.enqueue({ disconnect: true });
    await expect(chat()).rejects.toThrow();
    expect(emulator.aborted).toBe(0);
    expect((await chat()).status).toBe(200);
  });

  it("stops even while a request hangs", async () => {
    const other = await startOpenAIEmulator();
    other.enqueue({ hang: true });
    const pending = fetch(`${other.url}/v1/models`, { headers: { authorization: `Bearer ${other.apiKey}` } });
    await vi.waitFor(() => expect(other.counts.requests).toBe(1));
    await other.stop();
    await expect(pending).rejects.toThrow();
  });

  it("keeps counters but no requests with record: false", async () => {
    const quiet = await startOpenAIEmulator({ record: false });
    await fetch(`${quiet.url}/v1/models`, { headers: { authorization: `Bearer ${quiet.apiKey}` } });
    expect(quiet.requests).toHaveLength(0);
    expect(quiet.counts.requests).toBe(1);
    await quiet.stop();
  });
});

describe("startEmulators", () => {
  it("starts all four on distinct ports and stops them", async () => {
    const emulators = await startEmulators();
    const handles = [emulators.openai, emulators.anthropic, emulators.gemini, emulators.ollama];
    expect(new Set(handles.map((handle) => handle.port)).size).toBe(4);
    expect(handles.map((handle) => handle.provider)).toEqual(["openai", "anthropic", "gemini", "ollama"]);
    const { text } = await readAll(await fetch(emulators.ollama.url));
    expect(text).toBe("Ollama is running");
    emulators.reset();
    expect(emulators.ollama.requests).toHaveLength(0);
    await emulators.stop();
  });
});
