import type { ChatCompletionChunk, FinishReason } from "../../openai/responses.ts";
import { isRecord, toolCallId, tryJson } from "../common.ts";
import { DeferredFailure } from "../deferred-failure.ts";
import { NdjsonParser } from "../sse.ts";
import type {
  CallContext,
  ChatStreamTransform,
  NormalizedUsage,
  StreamOptions,
  UpstreamFailure,
} from "../types.ts";
import { UpstreamStreamError } from "../types.ts";
import { finishReasonOf, readToolCalls, usageOf } from "./response.ts";
import type { OllamaChatResponse } from "./wire.ts";
import { OLLAMA } from "./wire.ts";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

function streamFailure(message: string, retryable: boolean): UpstreamFailure {
  return { status: 502, code: "upstream_error", message, retryable, retryAfterMs: null };
}

/**
 * `/api/chat` NDJSON → chat.completion.chunk JSON. Each line holds the new text of `message.content`, or of
 * `message.thinking` (a thinking model's reasoning, before the answer); tool calls come whole; the `done`
 * line carries done_reason and the token counts, so usage is known only once the answer is complete. A
 * failure after the 200 is a line `{"error":"…"}`.
 */
export class OllamaStream implements ChatStreamTransform {
  private readonly parser = new NdjsonParser();
  private started = false;
  private done = false;
  private toolCalls = 0;
  private generatedIds = 0;
  private counts: NormalizedUsage | null = null;
  private model: string;
  private text = "";
  /** A failure met after chunks of the same push: those go out first, the next call throws. */
  private readonly failures = new DeferredFailure();

  constructor(
    private readonly ctx: CallContext,
    private readonly options: StreamOptions,
  ) {
    this.model = ctx.upstreamModel;
  }

  push(text: string): string[] {
    return this.failures.translate(this.parser.push(text), (line, out) => this.handle(line, out));
  }

  end(): string[] {
    const out = this.failures.translate(this.parser.end(), (line, chunks) => this.handle(line, chunks));
    this.failures.raise();
    if (!this.done)
      throw new UpstreamStreamError(streamFailure(`${OLLAMA} closed the stream before it was done`, true));
    return out;
  }

  usage(): NormalizedUsage | null {
    return this.counts;
  }

  outputText(): string {
    return this.text;
  }

  private handle(line: string, out: string[]): void {
    const parsed = tryJson(line);
    if (!isRecord(parsed)) {
      throw new UpstreamStreamError(
        streamFailure(`${OLLAMA} sent a stream line that is not JSON: ${line.slice(0, 100)}`, false),
      );
    }
    const response = parsed as OllamaChatResponse;
    if (typeof response.error === "string") {
      // A runner failure (out of memory, crashed model): another attempt, or another deployment, may succeed.
      throw new UpstreamStreamError(streamFailure(`${OLLAMA} stream failed: ${response.error}`, true));
    }
    if (this.done) return;
    if (!this.started) {
      this.started = true;
      if (typeof response.model === "string") this.model = response.model;
      out.push(this.delta({ role: "assistant", content: "" }));
    }
    const thinking = response.message?.thinking;
    if (typeof thinking === "string" && thinking !== "") {
      // Reasoning goes out as reasoning_content, never content; it is billed output like the answer.
      this.text += thinking;
      out.push(this.delta({ reasoning_content: thinking }));
    }
    const content = response.message?.content;
    if (typeof content === "string" && content !== "") {
      this.text += content;
      out.push(this.delta({ content }));
    }
    const calls = readToolCalls(response.message?.tool_calls, () =>
      toolCallId(this.ctx.requestId, this.generatedIds++),
    );
    if (calls.length > 0) {
      const deltas = calls.map((call) => {
        this.text += call.function.arguments;
        return { index: this.toolCalls++, ...call };
      });
      out.push(this.delta({ tool_calls: deltas }));
    }
    if (response.done === true) {
      this.done = true;
      this.counts = usageOf(response);
      out.push(this.delta({}, finishReasonOf(response.done_reason, this.toolCalls > 0)));
    }
  }

  private delta(delta: Delta, finish: FinishReason | null = null): string {
    const chunk: ChatCompletionChunk = {
      id: this.options.id,
      object: "chat.completion.chunk",
      created: this.options.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
    return JSON.stringify(chunk);
  }
}
