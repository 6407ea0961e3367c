import { describe, expect, it } from "vitest";
import { NdjsonParser, type SseEvent, SseParser } from "../../src/providers/sse.ts";

const wire =
  'event: message_start\ndata: {"a":1}\n\n: comment\n\nevent: delta\r\ndata: {"text":"héllo wörld 🙂"}\r\n\r\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';

function parseAll(parts: string[]): SseEvent[] {
  const parser = new SseParser();
  return [...parts.flatMap((part) => parser.push(part)), ...parser.end()];
}

describe("SseParser", () => {
  const expected = [
    { event: "message_start", data: '{"a":1}' },
    { event: "delta", data: '{"text":"héllo wörld 🙂"}' },
    { event: "message", data: "line1\nline2" },
    { event: "message", data: "[DONE]" },
  ];

  it("parses events, comments, CRLF and multi-line data", () => {
    expect(parseAll([wire])).toEqual(expected);
  });

  it("gives the same events however the text is split", () => {
    const chars = [...wire];
    for (let cut = 1; cut < chars.length; cut++) {
      expect(parseAll([chars.slice(0, cut).join(""), chars.slice(cut).join("")])).toEqual(expected);
    }
    expect(parseAll(chars)).toEqual(expected);
  });

  it("emits an event that lacks its final blank line at end of stream", () => {
    expect(parseAll(['data: {"x":1}'])).toEqual([{ event: "message", data: '{"x":1}' }]);
  });
});

describe("NdjsonParser", () => {
  it("yields complete lines only, in any split", () => {
    const parser = new NdjsonParser();
    expect(parser.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(parser.push(":2}\n\n")).toEqual(['{"b":2}']);
    expect(parser.push('{"c":3}')).toEqual([]);
    expect(parser.end()).toEqual(['{"c":3}']);
  });
});
