import { describe, expect, it, vi } from "vitest";
import { AnthropicChatStream } from "../../src/providers/anthropic/stream.ts";
import { OpenAIPassThroughStream } from "../../src/providers/openai/stream.ts";
import type { ChatStreamTransform } from "../../src/providers/types.ts";
import { streamResponse } from "../../src/services/proxy/stream-response.ts";
import type { CallTracker, Outcome } from "../../src/services/proxy/tracker.ts";
import { fromFetch } from "../../src/services/upstream/client.ts";
import { type OpenedStream, openStream } from "../../src/services/upstream/open-stream.ts";

const encoder = new TextEncoder();
const contentFrame = (n: number) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-up",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta: { content: `word${n} ` }, finish_reason: null }],
  })}\n\n`;
const finishFrame = `data: ${JSON.stringify({
  id: "chatcmpl-up",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
})}\n\n`;
const usageFrame = `data: ${JSON.stringify({
  id: "chatcmpl-up",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  choices: [],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
})}\n\n`;

/** An OpenAI-compatible upstream that produces one frame per read and counts the reads it served. */
function upstreamOf(frames: string[]) {
  const state = { pulled: 0, aborted: false };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = frames[state.pulled++];
      if (next === undefined) controller.close();
      else controller.enqueue(encoder.encode(next));
    },
  });
  const abort = () => {
    state.aborted = true;
  };
  return { call: { response: fromFetch(new Response(body)), abort }, state };
}

/** The tracker's surface the relay uses, recording what it was told. */
function recordingTracker() {
  const outcomes: Outcome[] = [];
  const tracker = {
    requestId: "req_relay",
    startedAt: 1_700_000_000_000,
    target: null,
    admitted: { model: { model_id: "gpt-test" } },
    finish: (outcome: Outcome) => {
      outcomes.push(outcome);
      return outcomes.length === 1 ? 1234 : 0;
    },
    headers: () => ({}),
  };
  return { tracker: tracker as unknown as CallTracker, outcomes };
}

async function relay(
  frames: string[],
  transform: ChatStreamTransform = new OpenAIPassThroughStream("openai"),
  upstream = upstreamOf(frames),
  signal = new AbortController().signal,
  /** Hand the stream over with this idle timeout, as the request scope does. */
  idleMs?: number,
) {
  const opened = await openStream(upstream.call, transform, "openai", signal);
  if (!opened.ok) throw new Error(opened.failure.message);
  if (idleMs !== undefined) opened.value.stream.watchIdle(idleMs);
  const { tracker, outcomes } = recordingTracker();
  let ends = 0;
  const response = streamResponse({
    opened: opened.value as OpenedStream,
    tracker,
    includeUsage: true,
    object: "chat.completion.chunk",
    prompt: "tell me a long story",
    fallbackId: "chatcmpl-req_relay",
    headers: {},
    onEnd: () => ends++,
  });
  return { response, upstream: upstream.state, outcomes, ends: () => ends };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const LONG = Array.from({ length: 2_000 }, (_, n) => contentFrame(n));

describe("stream relay", () => {
  it("reads the upstream only as the client reads, and settles a client that leaves once", async () => {
    const { response, upstream, outcomes, ends } = await relay(LONG);
    const reader = response.body?.getReader();
    const first = await reader?.read();
    expect(new TextDecoder().decode(first?.value)).toBe(contentFrame(0));
    await settle();
    // The client stopped reading: a few frames are queued ahead, not the whole answer.
    expect(upstream.pulled).toBeLessThan(10);

    await reader?.cancel();
    expect(upstream.aborted).toBe(true);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: "cancelled", errorCode: "client_disconnected" });
    expect(outcomes[0]?.usage.output).toBeGreaterThan(0);
    expect(ends()).toBe(1);
    await settle();
    expect(upstream.pulled).toBeLessThan(10);
  });

  it("relays a whole answer, then the usage chunk with the billed cost and [DONE], recorded once", async () => {
    const frames = [contentFrame(0), contentFrame(1), finishFrame, usageFrame, "data: [DONE]\n\n"];
    const { response, outcomes, ends } = await relay(frames);
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(events.slice(0, 3)).toEqual(frames.slice(0, 3).map((frame) => frame.trimEnd()));
    expect(JSON.parse(events[3]?.slice("data: ".length) ?? "")).toMatchObject({
      id: "chatcmpl-up",
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 7, cost_micros: 1234, estimated: false },
    });
    expect(events.slice(4)).toEqual(["data: [DONE]"]);
    expect(outcomes).toEqual([
      {
        usage: {
          input: 5,
          output: 7,
          cached_input: 0,
          cache_write: 0,
          cache_write_1h: 0,
          reasoning: 0,
          estimated: false,
        },
        status: "success",
        finishReasons: ["stop"],
        responseModel: "gpt-4o-mini",
      },
    ]);
    expect(ends()).toBe(1);
  });

  it("ends a stream that fails midway with an error event, recorded once with the output so far", async () => {
    const error = `data: ${JSON.stringify({ error: { message: "boom", type: "server_error" } })}\n\n`;
    const { response, upstream, outcomes, ends } = await relay([contentFrame(0), contentFrame(1), error]);
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[2]?.slice("data: ".length) ?? "")).toMatchObject({
      code: "upstream_error",
      error: { message: "openai failed (500): boom" },
    });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: "error", errorCode: "upstream_error" });
    expect(outcomes[0]?.usage).toMatchObject({ output: expect.any(Number), estimated: true });
    expect(upstream.aborted).toBe(true);
    expect(ends()).toBe(1);
  });

  it("reads a finish reason written with spaces (vLLM, LM Studio)", async () => {
    const spaced = finishFrame.replace('"finish_reason":"stop"', '"finish_reason": "length"');
    const { response, outcomes } = await relay([contentFrame(0), spaced, usageFrame, "data: [DONE]\n\n"]);
    await response.text();
    expect(outcomes[0]).toMatchObject({ status: "success", finishReasons: ["length"] });
  });

  it("marks as estimated the usage of an Anthropic stream cut before message_delta (message_start's placeholder)", async () => {
    const start = `event: message_start\ndata: ${JSON.stringify({
      type: "message_start",
      message: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [],
        stop_reason: null,
        usage: { input_tokens: 25, output_tokens: 1 },
      },
    })}\n\n`;
    const text = `event: content_block_delta\ndata: ${JSON.stringify({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "Once" },
    })}\n\n`;
    const ping = `event: ping\ndata: {"type": "ping"}\n\n`;
    const transform = new AnthropicChatStream(
      {
        target: { name: "anthropic", kind: "anthropic", baseUrl: "", apiKey: "", options: {} },
        upstreamModel: "claude",
        requestId: "req_relay",
      },
      { id: "chatcmpl-req_relay", created: 1 },
    );
    const { response, outcomes } = await relay(
      [start, ping, text, ...Array.from({ length: 50 }, () => ping)],
      transform,
    );
    const reader = response.body?.getReader();
    await reader?.read();
    await reader?.cancel();
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: "cancelled", usage: { input: 25, estimated: true } });
  });

  it.each([
    ["after the last read", [contentFrame(0), contentFrame(1), finishFrame, usageFrame, "data: [DONE]\n\n"]],
    ["when it was over before the hand-over", ["data: [DONE]\n\n"]],
  ])("leaves no idle timer behind once the stream ended (%s)", async (_, frames) => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { response, outcomes } = await relay(frames, undefined, undefined, undefined, 60_000);
      await response.text();
      expect(outcomes).toMatchObject([{ status: "success" }]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("ends a stream whose upstream sends nothing for the idle timeout with an upstream_timeout event, recording the output so far", async () => {
    const cut = new AbortController();
    let served = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) =>
        served++ === 0
          ? controller.enqueue(encoder.encode(contentFrame(0) + contentFrame(1)))
          : new Promise<void>((_, reject) =>
              cut.signal.addEventListener("abort", () => reject(new Error("The operation was aborted"))),
            ),
    });
    const upstream = {
      call: { response: fromFetch(new Response(body)), abort: () => cut.abort() },
      state: {},
    };
    const { response, outcomes, ends } = await relay(
      [],
      undefined,
      upstream as ReturnType<typeof upstreamOf>,
      undefined,
      30,
    );
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(events.slice(0, 2)).toEqual([contentFrame(0), contentFrame(1)].map((frame) => frame.trimEnd()));
    expect(JSON.parse(events[2]?.slice("data: ".length) ?? "")).toMatchObject({
      code: "upstream_timeout",
      error: { message: "openai sent nothing for the client for 30 ms mid-stream (STREAM_IDLE_TIMEOUT_MS)" },
    });
    expect(cut.signal.aborted).toBe(true);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: "error", errorCode: "upstream_timeout" });
    expect(outcomes[0]?.usage).toMatchObject({ output: expect.any(Number), estimated: true });
    expect(outcomes[0]?.usage.output).toBeGreaterThan(0);
    expect(ends()).toBe(1);
  });

  it("does not count keep-alive comments as progress: a stream that sends only those is cut at the idle timeout", async () => {
    const cut = new AbortController();
    let served = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (cut.signal.aborted) return controller.error(new Error("The operation was aborted"));
        if (served++ === 0) return controller.enqueue(encoder.encode(contentFrame(0)));
        await new Promise((resolve) => setTimeout(resolve, 5));
        controller.enqueue(encoder.encode(": keep-alive\n\n"));
      },
    });
    const upstream = {
      call: { response: fromFetch(new Response(body)), abort: () => cut.abort() },
      state: {},
    };
    const { response, outcomes } = await relay(
      [],
      undefined,
      upstream as ReturnType<typeof upstreamOf>,
      undefined,
      40,
    );
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(JSON.parse(events.at(-1)?.slice("data: ".length) ?? "")).toMatchObject({
      code: "upstream_timeout",
    });
    expect(cut.signal.aborted).toBe(true);
    expect(outcomes[0]).toMatchObject({ status: "error", errorCode: "upstream_timeout" });
  });
});
