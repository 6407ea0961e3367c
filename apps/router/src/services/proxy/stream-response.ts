import { buildErrorEnvelope, isAppError } from "@cloudfreedom/shared";
import { makeUsage } from "../../providers/common.ts";
import { toOpenAIUsage } from "../../providers/openai/usage.ts";
import {
  type ChatStreamTransform,
  type NormalizedUsage,
  UpstreamStreamError,
} from "../../providers/types.ts";
import type { OpenedStream } from "../upstream/open-stream.ts";
import { estimateUsage } from "../usage/estimate.ts";
import type { CallTracker } from "./tracker.ts";

const encoder = new TextEncoder();
/** A chunk that names a finish reason, however its JSON is spaced (vLLM and LM Studio write `": "`). */
const FINISH_REASON = /"finish_reason"\s*:\s*"/;
const frame = (data: string) => encoder.encode(`data: ${data}\n\n`);

interface FirstChunk {
  id?: string;
  created?: number;
  model?: string;
  choices?: Array<{ finish_reason?: string | null }>;
}

/**
 * The usage of a stream: the provider's when it finished and reported it; otherwise what we can count
 * (a cut or failed stream keeps the provider's partial numbers where they are larger).
 */
function settleUsage(transform: ChatStreamTransform, prompt: string, complete: boolean): NormalizedUsage {
  const reported = transform.usage();
  if (reported && complete) return reported;
  const estimate = estimateUsage(prompt, transform.outputText());
  if (!reported) return estimate;
  const output = Math.max(reported.output, estimate.output);
  const input = reported.input || estimate.input;
  return makeUsage(input, output, {
    cached: reported.cached_input,
    cacheWrite: reported.cache_write,
    cacheWrite1h: reported.cache_write_1h,
    reasoning: reported.reasoning,
    // The transform marks numbers it knows to be partial (Anthropic's message_start says output 1).
    estimated: reported.estimated || output !== reported.output || input !== reported.input,
  });
}

/**
 * Relay an opened upstream stream to the client as OpenAI SSE. The relay is pulled: the upstream is read
 * only as the client consumes (one batch of frames ahead), so a slow client holds the upstream back instead
 * of making the router buffer the whole answer. Transforms never emit the usage chunk: this does, once,
 * when the client asked for it, with the billed cost (`usage.cost_micros`). A provider error or a broken
 * connection mid-stream ends the stream with an `error` event; a client that leaves aborts the upstream.
 * Every path records the usage produced so far, exactly once, and calls `onEnd` once.
 */
export function streamResponse(options: {
  opened: OpenedStream;
  tracker: CallTracker;
  includeUsage: boolean;
  object: "chat.completion.chunk" | "text_completion";
  prompt: string;
  fallbackId: string;
  headers: Record<string, string>;
  /** Called once when the stream ended, however it ended. */
  onEnd: () => void;
}): Response {
  const { tracker } = options;
  const upstream = options.opened.stream;
  const transform = upstream.transform;
  let first: FirstChunk | undefined;
  let cancelled = false;
  let ended = false;
  const finishReasons: string[] = [];

  const end = () => {
    if (ended) return;
    ended = true;
    options.onEnd();
  };

  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, chunks: string[]) => {
    for (const chunk of chunks) {
      if (!first || FINISH_REASON.test(chunk)) {
        const parsed = JSON.parse(chunk) as FirstChunk;
        first ??= parsed;
        for (const choice of parsed.choices ?? [])
          if (choice.finish_reason) finishReasons.push(choice.finish_reason);
      }
      controller.enqueue(frame(chunk));
    }
  };

  const usageChunk = (usage: NormalizedUsage, billed: number) =>
    JSON.stringify({
      id: first?.id ?? options.fallbackId,
      object: options.object,
      created: first?.created ?? Math.floor(tracker.startedAt / 1000),
      model: first?.model ?? tracker.admitted.model.model_id,
      choices: [],
      usage: { ...toOpenAIUsage(usage), cost_micros: billed, estimated: usage.estimated },
    });

  /** Send chunks; once the upstream is done, the usage chunk and `[DONE]` close the stream. */
  function deliver(controller: ReadableStreamDefaultController<Uint8Array>, chunks: string[]): void {
    emit(controller, chunks);
    if (!upstream.done) return;
    const usage = settleUsage(transform, options.prompt, true);
    const billed = tracker.finish({
      usage,
      status: "success",
      finishReasons,
      responseModel: first?.model ?? null,
    });
    if (options.includeUsage) controller.enqueue(frame(usageChunk(usage, billed)));
    controller.enqueue(encoder.encode("data: [DONE]\n\n"));
    controller.close();
    end();
  }

  function fail(controller: ReadableStreamDefaultController<Uint8Array>, error: unknown): void {
    const failure = error instanceof UpstreamStreamError ? error.failure : null;
    const code = failure?.code ?? (isAppError(error) ? error.code : "upstream_error");
    const reason = error instanceof Error ? error.message : "unknown";
    const message = failure?.message ?? `${tracker.target?.name ?? "provider"} stream broke off: ${reason}`;
    tracker.finish({
      usage: settleUsage(transform, options.prompt, false),
      status: "error",
      errorCode: code,
      finishReasons,
    });
    upstream.abort();
    const envelope = buildErrorEnvelope({ code, message, requestId: tracker.requestId, openAI: true });
    controller.enqueue(frame(JSON.stringify(envelope)));
    controller.close();
    end();
  }

  /** One step of the relay; a failure ends the stream with an error event (unless the client left). */
  async function relay(controller: ReadableStreamDefaultController<Uint8Array>, chunks: Promise<string[]>) {
    try {
      deliver(controller, await chunks);
    } catch (error) {
      if (!cancelled) fail(controller, error);
    }
  }

  const stream = new ReadableStream<Uint8Array>(
    {
      start: (controller) => relay(controller, Promise.resolve(options.opened.head)),
      pull: (controller) => relay(controller, upstream.next()),
      cancel() {
        cancelled = true;
        upstream.abort();
        tracker.finish({
          usage: settleUsage(transform, options.prompt, false),
          status: "cancelled",
          errorCode: "client_disconnected",
          finishReasons,
        });
        end();
      },
    },
    // Counted in frames: the next upstream read starts once the client has taken every queued frame.
    { highWaterMark: 1 },
  );

  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...options.headers,
      ...tracker.headers(),
    },
  });
}
