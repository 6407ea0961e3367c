import type { ChatCompletionChunk, FinishReason } from "../../openai/responses.ts";
import { isRecord, toolCallId, tryJson } from "../common.ts";
import { DeferredFailure } from "../deferred-failure.ts";
import { SseParser } from "../sse.ts";
import type { CallContext, ChatStreamTransform, NormalizedUsage, StreamOptions } from "../types.ts";
import { UpstreamStreamError } from "../types.ts";
import { geminiStreamFailure } from "./errors.ts";
import { blockedPromptFailure, finishReasonOf, readParts, usageOf } from "./response.ts";
import type { GeminiCandidate, GeminiResponse, GeminiUsageMetadata } from "./wire.ts";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

interface ChoiceState {
  toolCalls: number;
  finished: boolean;
}

/**
 * `streamGenerateContent?alt=sse` → chat.completion.chunk JSON. Every event is a complete
 * GenerateContentResponse holding only the new text; function calls arrive whole (Gemini never splits their
 * arguments), so each becomes one tool-call delta. usageMetadata is cumulative: the last one wins.
 */
export class GeminiStream implements ChatStreamTransform {
  private readonly parser = new SseParser();
  private readonly choices = new Map<number, ChoiceState>();
  private meta: GeminiUsageMetadata | undefined;
  private model: string;
  private text = "";
  private generatedIds = 0;
  /** A failure met after chunks of the same push: those go out first, the next call throws. */
  private readonly failures = new DeferredFailure();

  constructor(
    private readonly ctx: CallContext,
    private readonly options: StreamOptions,
  ) {
    this.model = ctx.upstreamModel;
  }

  push(text: string): string[] {
    return this.failures.translate(this.parser.push(text), (event, out) => this.handle(event.data, out));
  }

  end(): string[] {
    const out = this.failures.translate(this.parser.end(), (event, chunks) =>
      this.handle(event.data, chunks),
    );
    this.failures.raise();
    const states = [...this.choices.values()];
    if (states.length === 0 || states.some((state) => !state.finished)) {
      throw new UpstreamStreamError({
        status: 502,
        code: "upstream_error",
        message: "Gemini closed the stream before it finished the answer",
        retryable: true,
        retryAfterMs: null,
      });
    }
    return out;
  }

  usage(): NormalizedUsage | null {
    return usageOf(this.meta);
  }

  outputText(): string {
    return this.text;
  }

  private handle(data: string, out: string[]): void {
    const parsed = tryJson(data);
    if (!isRecord(parsed)) {
      throw new UpstreamStreamError({
        status: 502,
        code: "upstream_error",
        message: `Gemini sent a stream event that is not JSON: ${data.slice(0, 100)}`,
        retryable: false,
        retryAfterMs: null,
      });
    }
    const response = parsed as GeminiResponse;
    if (isRecord(response.error)) throw new UpstreamStreamError(geminiStreamFailure(response.error));
    if (isRecord(response.usageMetadata)) this.meta = response.usageMetadata;
    if (this.choices.size === 0 && typeof response.modelVersion === "string")
      this.model = response.modelVersion;
    const candidates = Array.isArray(response.candidates) ? response.candidates : [];
    if (candidates.length === 0 && response.promptFeedback?.blockReason) {
      throw new UpstreamStreamError(blockedPromptFailure(response.promptFeedback));
    }
    for (const [i, candidate] of candidates.entries()) this.candidate(candidate, candidate.index ?? i, out);
  }

  /** A SAFETY stop mid-answer ends the choice with `content_filter`, as OpenAI ends a filtered stream. */
  private candidate(candidate: GeminiCandidate, index: number, out: string[]): void {
    let state = this.choices.get(index);
    if (!state) {
      state = { toolCalls: 0, finished: false };
      this.choices.set(index, state);
      out.push(this.delta(index, { role: "assistant", content: "" }));
    }
    const { text, reasoning, calls } = readParts(candidate.content?.parts);
    if (reasoning) {
      this.text += reasoning;
      out.push(this.delta(index, { reasoning_content: reasoning }));
    }
    if (text) {
      this.text += text;
      out.push(this.delta(index, { content: text }));
    }
    if (calls.length > 0) {
      const choice = state;
      const toolCalls = calls.map((call) => {
        const args = JSON.stringify(call.args);
        this.text += args;
        const id = call.id ?? toolCallId(this.ctx.requestId, this.generatedIds++);
        return {
          index: choice.toolCalls++,
          id,
          type: "function" as const,
          function: { name: call.name, arguments: args },
        };
      });
      out.push(this.delta(index, { tool_calls: toolCalls }));
    }
    if (candidate.finishReason && !state.finished) {
      state.finished = true;
      out.push(this.delta(index, {}, finishReasonOf(candidate.finishReason, state.toolCalls > 0)));
    }
  }

  private delta(index: number, delta: Delta, finish: FinishReason | null = null): string {
    return this.chunk([{ index, delta, finish_reason: finish, logprobs: null }]);
  }

  private chunk(choices: ChatCompletionChunk["choices"]): string {
    const chunk: ChatCompletionChunk = {
      id: this.options.id,
      object: "chat.completion.chunk",
      created: this.options.created,
      model: this.model,
      choices,
    };
    return JSON.stringify(chunk);
  }
}
