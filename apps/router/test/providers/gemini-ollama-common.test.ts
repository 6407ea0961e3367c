import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../../src/openai/requests.ts";
import {
  embeddingTexts,
  estimateTokens,
  float32Base64,
  invalidField,
  parseDataUrl,
  parseToolArguments,
  stopList,
  toolCallId,
  toolCallName,
} from "../../src/providers/common.ts";
import { decodeFloat32 } from "./gemini-ollama-helpers.ts";

describe("shared adapter helpers (common.ts)", () => {
  it("splits a base64 data URL and rejects anything else", () => {
    expect(parseDataUrl("data:image/PNG;base64,iVBORw0K")).toEqual({
      mediaType: "image/png",
      data: "iVBORw0K",
    });
    expect(parseDataUrl("data:image/jpeg;name=cat.jpg;base64,/9j/")).toEqual({
      mediaType: "image/jpeg",
      data: "/9j/",
    });
    expect(parseDataUrl("data:image/svg+xml,<svg/>")).toBeNull();
    expect(parseDataUrl("data:;base64,AAAA")).toBeNull();
    expect(parseDataUrl("https://example.com/a.png")).toBeNull();
  });

  it("parses tool-call arguments into an object, treating an empty string as no arguments", () => {
    expect(parseToolArguments('{"a":1}', "f")).toEqual({ a: 1 });
    expect(parseToolArguments("  ", "f")).toEqual({});
    expect(() => parseToolArguments("{", "messages[1].tool_calls[0].function.arguments")).toThrow(
      invalidField("messages[1].tool_calls[0].function.arguments", "must be valid JSON"),
    );
    expect(() => parseToolArguments('"x"', "f")).toThrow("f: must be a JSON object");
  });

  it("finds the function a tool message answers in the nearest earlier assistant call with that id", () => {
    const call = (id: string, name: string) => ({
      id,
      type: "function" as const,
      function: { name, arguments: "{}" },
    });
    const messages: ChatMessage[] = [
      { role: "assistant", content: null, tool_calls: [call("call_0", "old")] },
      { role: "tool", tool_call_id: "call_0", content: "1" },
      { role: "assistant", content: null, tool_calls: [call("call_9", "other"), call("call_0", "new")] },
      { role: "tool", tool_call_id: "call_0", content: "2" },
      { role: "tool", tool_call_id: "call_x", content: "3" },
    ];
    expect(toolCallName(messages, 1)).toBe("old");
    expect(toolCallName(messages, 3)).toBe("new");
    expect(toolCallName(messages, 4)).toBeNull();
    expect(toolCallName(messages, 0)).toBeNull();
  });

  it("makes tool-call ids unique per request", () => {
    expect(toolCallId("req_01ABC", 0)).toBe("call_01ABC_0");
    expect(toolCallId("req_01ABC", 3)).toBe("call_01ABC_3");
  });

  it("normalises stop to a list", () => {
    expect(stopList("END")).toEqual(["END"]);
    expect(stopList(["a", "b"])).toEqual(["a", "b"]);
    expect(stopList(null)).toBeUndefined();
    expect(stopList(undefined)).toBeUndefined();
  });

  it("encodes an embedding as OpenAI's little-endian float32 base64", () => {
    expect(float32Base64([1, -2])).toBe("AACAPwAAAMA=");
    expect(decodeFloat32(float32Base64([0.1, 0.25]))).toEqual([Math.fround(0.1), 0.25]);
    expect(float32Base64([])).toBe("");
  });

  it("estimates about four characters a token", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("abcd")).toBe(1);
    expect(estimateTokens("abcde")).toBe(2);
  });

  it("takes embedding texts and refuses token ids naming the field", () => {
    expect(embeddingTexts("one", "X")).toEqual(["one"]);
    expect(embeddingTexts(["a", "b"], "X")).toEqual(["a", "b"]);
    expect(() => embeddingTexts([1, 2], "X")).toThrow(
      invalidField("input", "X embeds text; token-id arrays are not supported, send strings"),
    );
  });
});
