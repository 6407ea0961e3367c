import { AppError } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { ChatCompletionRequest } from "../../src/openai/requests.ts";
import { anthropicAdapter } from "../../src/providers/anthropic/index.ts";
import { openAIAdapter } from "../../src/providers/openai/index.ts";
import { ctx } from "./anthropic-helpers.ts";

// Anthropic prompt-cache breakpoints (`cache_control`) accepted in OpenAI-format requests, as OpenRouter and
// LiteLLM take them: validated by the request schema, placed on the Anthropic blocks, taken off elsewhere.
const ephemeral = { type: "ephemeral" } as const;
const hour = { type: "ephemeral", ttl: "1h" } as const;

const parse = (body: Record<string, unknown>) => ChatCompletionRequest.parse({ model: "claude", ...body });
const anthropicRequest = (body: Record<string, unknown>) =>
  anthropicAdapter.chat.request(parse(body), ctx, false);
const anthropicBody = (body: Record<string, unknown>): Record<string, unknown> =>
  JSON.parse(anthropicRequest(body).body);

const tool = (name: string, cache_control?: object) => ({
  type: "function",
  function: { name, parameters: { type: "object" } },
  ...(cache_control ? { cache_control } : {}),
});

function refusal(run: () => unknown): { field: unknown; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return { field: error.details?.field, message: error.message };
    const issue = (error as { issues?: { path: unknown[]; message: string }[] }).issues?.[0];
    if (issue) return { field: issue.path.join("."), message: issue.message };
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("cache_control in the request schema", () => {
  it("keeps breakpoints on parts, messages and tools, and refuses malformed ones", () => {
    const req = parse({
      messages: [
        { role: "system", content: "manual", cache_control: ephemeral },
        { role: "user", content: [{ type: "text", text: "hi", cache_control: hour }] },
      ],
      tools: [tool("lookup", ephemeral)],
    });
    expect(req.messages[0]).toMatchObject({ cache_control: ephemeral });
    expect(req.messages[1]).toMatchObject({ content: [{ cache_control: hour }] });
    expect(req.tools?.[0]).toMatchObject({ cache_control: ephemeral });
    expect(() =>
      parse({ messages: [{ role: "user", content: "hi", cache_control: { type: "forever" } }] }),
    ).toThrow();
    expect(() =>
      parse({ messages: [{ role: "user", content: "hi", cache_control: { type: "ephemeral", ttl: "2h" } }] }),
    ).toThrow();
    // Nothing else may ride along in a breakpoint: it would reach Anthropic, which refuses unknown fields.
    expect(() =>
      parse({
        messages: [{ role: "user", content: "hi", cache_control: { type: "ephemeral", scope: "x" } }],
      }),
    ).toThrow();
  });

  it("refuses a fifth breakpoint, naming it", () => {
    const result = ChatCompletionRequest.safeParse({
      model: "claude",
      tools: [tool("a", ephemeral), tool("b", ephemeral)],
      messages: [
        { role: "system", content: "manual", cache_control: ephemeral },
        { role: "user", content: [{ type: "text", text: "x", cache_control: ephemeral }] },
        { role: "user", content: "y", cache_control: ephemeral },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ["messages", 2, "cache_control"],
        message: "at most 4 cache_control breakpoints are allowed in one request",
      }),
    ]);
  });
});

describe("anthropic request mapping: cache breakpoints", () => {
  it("marks the blocks the client marked, and a message's last block for a message-wide breakpoint", () => {
    const body = anthropicBody({
      tools: [tool("lookup", hour), tool("other")],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "document", cache_control: hour },
            { type: "image_url", image_url: { url: "https://x/y.png" }, cache_control: ephemeral },
            { type: "text", text: "question" },
          ],
        },
        { role: "assistant", content: "answer", cache_control: ephemeral },
        { role: "user", content: "follow-up" },
      ],
    });
    expect(body.tools).toEqual([
      { name: "lookup", input_schema: { type: "object" }, cache_control: hour },
      { name: "other", input_schema: { type: "object" } },
    ]);
    expect(body.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "document", cache_control: hour },
          { type: "image", source: { type: "url", url: "https://x/y.png" }, cache_control: ephemeral },
          { type: "text", text: "question" },
        ],
      },
      // A single text block with a breakpoint cannot collapse to the string form.
      { role: "assistant", content: [{ type: "text", text: "answer", cache_control: ephemeral }] },
      { role: "user", content: "follow-up" },
    ]);
  });

  it("sends the system prompt as text blocks when a system message has a breakpoint", () => {
    const body = anthropicBody({
      messages: [
        { role: "system", content: "the manual", cache_control: hour },
        { role: "developer", content: [{ type: "text", text: "house rules" }] },
        { role: "user", content: "hi" },
      ],
      response_format: { type: "json_object" },
    });
    expect(body.system).toEqual([
      { type: "text", text: "the manual", cache_control: hour },
      { type: "text", text: "house rules" },
      { type: "text", text: expect.stringContaining("valid JSON object") },
    ]);
    expect(
      anthropicRequest({
        messages: [
          { role: "system", content: "m", cache_control: hour },
          { role: "user", content: "hi" },
        ],
      }).headers["anthropic-beta"],
    ).toBe("extended-cache-ttl-2025-04-11");
  });

  it("keeps the plain system string and sends no beta without a breakpoint", () => {
    const request = anthropicRequest({
      messages: [
        { role: "system", content: "a" },
        { role: "system", content: "b" },
        { role: "user", content: "hi" },
      ],
    });
    expect(JSON.parse(request.body).system).toBe("a\n\nb");
    expect(request.headers["anthropic-beta"]).toBeUndefined();
  });

  it("marks a tool result for a breakpoint on the tool message", () => {
    const body = anthropicBody({
      messages: [
        { role: "user", content: "weather?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "t1", type: "function", function: { name: "w", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "t1", content: "sunny", cache_control: ephemeral },
      ],
    });
    expect((body.messages as unknown[])[2]).toEqual({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "t1", content: "sunny", cache_control: ephemeral }],
    });
  });

  it("refuses a 1-hour breakpoint after a 5-minute one in Anthropic's order (tools, system, messages)", () => {
    const { field, message } = refusal(() =>
      anthropicRequest({
        tools: [tool("lookup", ephemeral)],
        messages: [
          { role: "system", content: "manual", cache_control: hour },
          { role: "user", content: "hi" },
        ],
      }),
    );
    expect(field).toBe("messages[0].cache_control");
    expect(message).toMatch(/"1h" breakpoint must come before every 5-minute one/);
  });
});

describe("openai request mapping: cache breakpoints", () => {
  it("never sends cache_control to an OpenAI-compatible upstream", () => {
    const openaiCtx = {
      ...ctx,
      target: { ...ctx.target, kind: "openai" as const, baseUrl: "https://api.openai.com/v1" },
    };
    const request = openAIAdapter.chat.request(
      parse({
        messages: [
          { role: "system", content: "manual", cache_control: ephemeral },
          { role: "user", content: [{ type: "text", text: "hi", cache_control: hour }] },
        ],
        tools: [tool("lookup", ephemeral)],
      }),
      openaiCtx,
      false,
    );
    expect(request.body).not.toContain("cache_control");
    expect(JSON.parse(request.body)).toMatchObject({
      messages: [
        { role: "system", content: "manual" },
        { role: "user", content: [{ type: "text", text: "hi" }] },
      ],
      tools: [{ type: "function", function: { name: "lookup" } }],
    });
  });
});
