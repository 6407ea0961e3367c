import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { countTokens, type EmulatorHandle, startAnthropicEmulator } from "../src/emulators/index.ts";
import { obj, parseSse, post } from "./emulators-helpers.ts";

// Prompt caching as the Messages API does it: the prefix up to the last breakpoint is written once, then read.
let anthropic: EmulatorHandle;
const messages = (body: Record<string, unknown>) =>
  post(
    `${anthropic.url}/v1/messages`,
    { model: "claude-sonnet-4-5", max_tokens: 100, ...body },
    { "x-api-key": anthropic.apiKey, "anthropic-version": "2023-06-01" },
  );
const ephemeral = { type: "ephemeral" };
const hour = { type: "ephemeral", ttl: "1h" };
const MANUAL = "You answer questions about the manual: chapter one explains the setup, chapter two the rest.";
const NOTES = "Notes kept for an hour: every answer cites its chapter.";
const cachedSystem = (control: object) => [{ type: "text", text: MANUAL, cache_control: control }];
const ask = (question: string) => [{ role: "user", content: question }];

const usageOf = async (response: Response) => obj(obj(await response.json()).usage);

beforeAll(async () => {
  anthropic = await startAnthropicEmulator();
});
afterAll(() => anthropic.stop());
beforeEach(() => anthropic.reset());

describe("Anthropic emulator: prompt caching", () => {
  it("writes the prefix up to the breakpoint the first time and reads it when it comes again", async () => {
    const first = await usageOf(
      await messages({ system: cachedSystem(ephemeral), messages: ask("Hi there") }),
    );
    expect(first).toMatchObject({
      input_tokens: countTokens("Hi there"),
      cache_creation_input_tokens: countTokens(MANUAL),
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: countTokens(MANUAL), ephemeral_1h_input_tokens: 0 },
    });
    const second = await usageOf(
      await messages({ system: cachedSystem(ephemeral), messages: ask("Bye now") }),
    );
    expect(second).toMatchObject({
      input_tokens: countTokens("Bye now"),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: countTokens(MANUAL),
    });
    // Another model has a cache of its own.
    const other = await usageOf(
      await messages({
        model: "claude-haiku-4-5",
        system: cachedSystem(ephemeral),
        messages: ask("Bye now"),
      }),
    );
    expect(other).toMatchObject({
      cache_creation_input_tokens: countTokens(MANUAL),
      cache_read_input_tokens: 0,
    });
  });

  it("reads the cached part and writes the rest, each stretch to its breakpoint's cache, in a stream too", async () => {
    await messages({ system: cachedSystem(hour), messages: ask("first") });
    const system = [...cachedSystem(hour), { type: "text", text: NOTES, cache_control: ephemeral }];
    const conversation = [
      { role: "user", content: [{ type: "text", text: "second question", cache_control: ephemeral }] },
    ];
    const response = await messages({ system, messages: conversation, stream: true });
    const start = parseSse(await response.text()).find((event) => event.event === "message_start");
    expect(obj(obj(JSON.parse(start?.data ?? "null")).message).usage).toMatchObject({
      input_tokens: 0,
      cache_read_input_tokens: countTokens(MANUAL),
      cache_creation_input_tokens: countTokens(NOTES) + countTokens("second question"),
      cache_creation: {
        ephemeral_5m_input_tokens: countTokens(NOTES) + countTokens("second question"),
        ephemeral_1h_input_tokens: 0,
      },
    });
  });

  it("reports the 1-hour part of a write", async () => {
    const system = [...cachedSystem(hour), { type: "text", text: NOTES, cache_control: ephemeral }];
    expect(await usageOf(await messages({ system, messages: ask("Hi") }))).toMatchObject({
      cache_creation_input_tokens: countTokens(MANUAL) + countTokens(NOTES),
      cache_creation: {
        ephemeral_5m_input_tokens: countTokens(NOTES),
        ephemeral_1h_input_tokens: countTokens(MANUAL),
      },
    });
  });

  it("a behaviour's cache counters win over the breakpoints'", async () => {
    anthropic.enqueue({ cacheCreationTokens: 3 });
    const usage = await usageOf(await messages({ system: cachedSystem(ephemeral), messages: ask("Hi") }));
    expect(usage).toMatchObject({ cache_creation_input_tokens: 3, cache_read_input_tokens: 0 });
    expect(usage.cache_creation).toBeUndefined();
  });

  it("refuses more than four breakpoints with invalid_request_error", async () => {
    const tool = (name: string) => ({ name, input_schema: { type: "object" }, cache_control: ephemeral });
    const response = await messages({
      tools: [tool("a"), tool("b"), tool("c")],
      system: cachedSystem(ephemeral),
      messages: [{ role: "user", content: [{ type: "text", text: "Hi", cache_control: ephemeral }] }],
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "A maximum of 4 blocks with cache_control may be provided. Found 5.",
      },
      request_id: expect.any(String),
    });
  });
});
