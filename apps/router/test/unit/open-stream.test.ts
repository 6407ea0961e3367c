import { describe, expect, it } from "vitest";
import { ADAPTERS } from "../../src/providers/registry.ts";
import type { CallContext } from "../../src/providers/types.ts";
import { fromFetch } from "../../src/services/upstream/client.ts";
import { carriesContent, MAX_HELD_CHUNKS, openStream } from "../../src/services/upstream/open-stream.ts";

const encoder = new TextEncoder();
const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`;
const line = (data: unknown) => `${JSON.stringify(data)}\n`;

type Kind = "anthropic" | "openai" | "gemini" | "ollama";

/** Per provider: frames that open a stream without content, its first content frame, and an overload. */
const WIRE: Record<Kind, { opening: string[]; content: string; error: string }> = {
  anthropic: {
    opening: [
      sse(
        {
          type: "message_start",
          message: { id: "msg_1", model: "claude-sonnet-4-5", usage: { input_tokens: 9, output_tokens: 1 } },
        },
        "message_start",
      ),
      sse({ type: "ping" }, "ping"),
      sse(
        { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
        "content_block_start",
      ),
    ],
    content: sse(
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } },
      "content_block_delta",
    ),
    error: sse({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, "error"),
  },
  openai: {
    opening: [
      sse({
        id: "chatcmpl-1",
        object: "chat.completion.chunk",
        created: 1,
        model: "gpt-4o-mini",
        choices: [
          { index: 0, delta: { role: "assistant", content: "", refusal: null }, finish_reason: null },
        ],
      }),
    ],
    content: sse({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "gpt-4o-mini",
      choices: [{ index: 0, delta: { content: "Hello" }, finish_reason: null }],
    }),
    error: sse({ error: { message: "The server is overloaded", type: "server_error" } }),
  },
  gemini: {
    // A thinking model can open with a part that holds only a thought signature: nothing to show. (Thought
    // summaries, sent when the client asked for reasoning, are shown as reasoning_content and commit.)
    opening: [
      sse({
        candidates: [
          { content: { role: "model", parts: [{ text: "", thoughtSignature: "CiQBVKhc7g==" }] }, index: 0 },
        ],
      }),
    ],
    content: sse({ candidates: [{ content: { role: "model", parts: [{ text: "Hello" }] }, index: 0 }] }),
    error: sse({ error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } }),
  },
  ollama: {
    opening: [line({ model: "llama3.2", message: { role: "assistant", content: "" }, done: false })],
    content: line({ model: "llama3.2", message: { role: "assistant", content: "Hello" }, done: false }),
    error: line({ error: "model runner has unexpectedly stopped" }),
  },
};
const KINDS = Object.keys(WIRE) as Kind[];

/** An upstream that serves one frame per read and counts the reads. */
function upstreamOf(frames: string[]) {
  const state = { pulled: 0, aborted: false };
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = frames[state.pulled++];
        if (next === undefined) controller.close();
        else controller.enqueue(encoder.encode(next));
      },
    },
    // Pulled only when read: `pulled` counts what the router asked for.
    { highWaterMark: 0 },
  );
  const abort = () => {
    state.aborted = true;
  };
  return { call: { response: fromFetch(new Response(body)), abort }, state };
}

function open(kind: Kind, frames: string[]) {
  const ctx: CallContext = {
    target: { name: kind, kind, baseUrl: "", apiKey: "", options: {} },
    upstreamModel: "model",
    requestId: "req_open",
  };
  const transform = ADAPTERS[kind].chat.stream(ctx, { id: "chatcmpl-req_open", created: 1 });
  const upstream = upstreamOf(frames);
  const opened = openStream(upstream.call, transform, kind, new AbortController().signal);
  return { opened, upstream: upstream.state };
}

const deltas = (head: string[]) => head.map((chunk) => JSON.parse(chunk).choices[0].delta);

describe("a stream's commit point", () => {
  it.each(KINDS)(
    "turns %s's overload after the opening, before any content, into a failed attempt",
    async (kind) => {
      const { opening, error } = WIRE[kind];
      for (const frames of [[...opening, error], [[...opening, error].join("")]]) {
        const { opened, upstream } = open(kind, frames);
        const result = await opened;
        expect(result).toMatchObject({ ok: false, failure: { code: "upstream_error", retryable: true } });
        expect(upstream.aborted).toBe(true);
      }
    },
  );

  it.each(KINDS)(
    "holds %s's role chunk and sends it with the first content, reading no further",
    async (kind) => {
      const { opening, content } = WIRE[kind];
      const { opened, upstream } = open(kind, [...opening, content, content, content]);
      const result = await opened;
      if (!result.ok) throw new Error(result.failure.message);
      const head = deltas(result.value.head);
      expect(head).toHaveLength(2);
      expect(head).toMatchObject([{ role: "assistant", content: "" }, { content: "Hello" }]);
      expect(upstream.pulled).toBe(opening.length + 1);
      expect(result.value.stream.done).toBe(false);
    },
  );

  it("commits at a thought summary: the client sees it as reasoning_content", async () => {
    const thought = sse({
      candidates: [
        { content: { role: "model", parts: [{ text: "Weighing it up", thought: true }] }, index: 0 },
      ],
    });
    const { opened, upstream } = open("gemini", [thought, WIRE.gemini.content]);
    const result = await opened;
    if (!result.ok) throw new Error(result.failure.message);
    expect(deltas(result.value.head)).toEqual([
      { role: "assistant", content: "" },
      { reasoning_content: "Weighing it up" },
    ]);
    expect(upstream.pulled).toBe(1);
  });

  it("commits a stream that ended without content with everything it sent (an empty answer is an answer)", async () => {
    const finish = sse({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "gpt-4o-mini",
      choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
    });
    const { opened } = open("openai", [...WIRE.openai.opening, finish, "data: [DONE]\n\n"]);
    const result = await opened;
    if (!result.ok) throw new Error(result.failure.message);
    expect(result.value.head).toHaveLength(2);
  });

  it("commits a stream that keeps sending empty deltas after MAX_HELD_CHUNKS, holding no more", async () => {
    const empty = sse({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "gpt-4o-mini",
      choices: [{ index: 0, delta: {} }],
    });
    const { opened, upstream } = open("openai", [
      ...WIRE.openai.opening,
      ...Array.from({ length: MAX_HELD_CHUNKS * 2 }, () => empty),
    ]);
    const result = await opened;
    if (!result.ok) throw new Error(result.failure.message);
    expect(result.value.head).toHaveLength(MAX_HELD_CHUNKS);
    expect(result.value.stream.done).toBe(false);
    expect(upstream.pulled).toBeLessThan(MAX_HELD_CHUNKS * 2);
  });

  it("counts as content text, tool calls, refusals, reasoning, a finish reason and usage, not a role or empty fields", () => {
    const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        id: "c",
        object: "chat.completion.chunk",
        choices: [{ index: 0, ...choice }],
        ...extra,
      });
    const empty = [
      chunk({ delta: { role: "assistant", content: "", refusal: null }, finish_reason: null }),
      chunk({ delta: { role: "assistant", content: null, tool_calls: [] }, finish_reason: null }),
      chunk({ delta: {}, finish_reason: null, logprobs: null }),
      chunk({ text: "", finish_reason: null }),
      JSON.stringify({ id: "c", choices: [] }),
    ];
    const full = [
      chunk({ delta: { content: "Hi" }, finish_reason: null }),
      chunk({ delta: { tool_calls: [{ index: 0, id: "call_1", function: { name: "f", arguments: "" } }] } }),
      chunk({ delta: { role: "assistant", refusal: "I can't help with that." } }),
      chunk({ delta: { role: "assistant", content: "", reasoning_content: "Let me think" } }),
      chunk({ delta: {}, finish_reason: "stop" }),
      chunk({ text: "Once", finish_reason: null }),
      JSON.stringify({ id: "c", choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }),
    ];
    expect(empty.map(carriesContent)).toEqual(empty.map(() => false));
    expect(full.map(carriesContent)).toEqual(full.map(() => true));
  });
});
