import type { ChatCompletionChunk, FinishReason } from "../../openai/responses.ts";
import { isRecord, toolCallId, tryJson } from "../common.ts";
import { type SseEvent, SseParser } from "../sse.ts";
import {
  type CallContext,
  type ChatStreamTransform,
  type NormalizedUsage,
  type StreamOptions,
  type UpstreamFailure,
  UpstreamStreamError,
} from "../types.ts";
import { brokenStream, streamFailure } from "./errors.ts";
import { type AnthropicTokenCounts, emptyCounts, normalizeCounts, readUsage } from "./usage.ts";
import { finishReasonOf, stringOr } from "./wire.ts";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

/** A `tool_use` block of the stream. */
interface ToolBlock {
  /** Its OpenAI tool-call index (0, 1, … in order of appearance). */
  index: number;
  /** `input` of content_block_start as JSON: Anthropic sends `{}` there and the input as input_json_delta. */
  startInput: string;
  sawJson: boolean;
}

/** Everything one stream has learnt so far. */
interface StreamState {
  id: string;
  model: string;
  counts: AnthropicTokenCounts;
  sawUsage: boolean;
  /** Anthropic's output count is final only once `message_delta` has arrived. */
  outputFinal: boolean;
  /** Anthropic content-block index → its tool_use block. */
  tools: Map<number, ToolBlock>;
  output: string;
  finishReason: FinishReason | null;
  stopped: boolean;
  failure: UpstreamFailure | null;
}

/**
 * Anthropic Messages SSE → OpenAI chunks. A push never loses chunks: when an `error` event follows content
 * in the same text, that content is returned and the error is thrown by the next `push` or `end`.
 */
export class AnthropicChatStream implements ChatStreamTransform {
  private readonly parser = new SseParser();
  private readonly state: StreamState;
  private readonly requestId: string;

  constructor(
    ctx: CallContext,
    private readonly options: StreamOptions,
  ) {
    this.requestId = ctx.requestId;
    this.state = {
      id: options.id,
      model: ctx.upstreamModel,
      counts: emptyCounts(),
      sawUsage: false,
      outputFinal: false,
      tools: new Map(),
      output: "",
      finishReason: null,
      stopped: false,
      failure: null,
    };
  }

  push(text: string): string[] {
    this.throwIfFailed();
    return this.translate(this.parser.push(text));
  }

  end(): string[] {
    this.throwIfFailed();
    const out = this.translate(this.parser.end());
    const state = this.state;
    // Complete once `message_delta` carried the finish reason and final usage, even if message_stop went missing.
    if (!state.stopped && state.finishReason === null && !state.failure)
      state.failure = brokenStream("the stream ended mid-message");
    this.throwIfFailed();
    return out;
  }

  /** `estimated` while the output count is still message_start's placeholder (a stream cut short). */
  usage(): NormalizedUsage | null {
    return this.state.sawUsage ? normalizeCounts(this.state.counts, !this.state.outputFinal) : null;
  }

  outputText(): string {
    return this.state.output;
  }

  private throwIfFailed(): void {
    if (this.state.failure) throw new UpstreamStreamError(this.state.failure);
  }

  private translate(events: SseEvent[]): string[] {
    const out: string[] = [];
    for (const event of events) {
      if (this.state.failure || this.state.stopped) break;
      this.handle(event, out);
    }
    if (out.length === 0) this.throwIfFailed();
    return out;
  }

  private handle(event: SseEvent, out: string[]): void {
    const data = tryJson(event.data);
    if (!isRecord(data)) {
      this.state.failure = brokenStream("sent a stream event that is not JSON");
      return;
    }
    switch (stringOr(data.type, event.event)) {
      case "message_start":
        this.messageStart(data.message, out);
        break;
      case "content_block_start":
        this.startBlock(data.index, data.content_block, out);
        break;
      case "content_block_delta":
        this.delta(data.index, data.delta, out);
        break;
      case "content_block_stop":
        this.stopBlock(data.index, out);
        break;
      case "message_delta":
        this.messageDelta(data, out);
        break;
      case "message_stop":
        this.state.stopped = true;
        break;
      case "error":
        this.state.failure = streamFailure(data);
        break;
      // ping and event types added after this was written carry nothing for OpenAI.
    }
  }

  private messageStart(message: unknown, out: string[]): void {
    const state = this.state;
    if (isRecord(message)) {
      state.id = stringOr(message.id, state.id);
      state.model = stringOr(message.model, state.model);
      if (readUsage(message.usage, state.counts)) state.sawUsage = true;
    }
    out.push(this.chunk({ role: "assistant", content: "" }));
  }

  private messageDelta(data: Record<string, unknown>, out: string[]): void {
    const state = this.state;
    if (readUsage(data.usage, state.counts)) {
      state.sawUsage = true;
      state.outputFinal = true;
    }
    const stopReason = isRecord(data.delta) ? data.delta.stop_reason : undefined;
    if (typeof stopReason !== "string" || state.finishReason !== null) return;
    state.finishReason = finishReasonOf(stopReason);
    out.push(this.chunk({}, state.finishReason));
  }

  private startBlock(index: unknown, block: unknown, out: string[]): void {
    if (!isRecord(block) || typeof index !== "number") return;
    if (block.type === "text") this.text(block.text, out);
    if (block.type === "thinking") this.reasoning(block.thinking, out);
    if (block.type !== "tool_use") return;
    const toolIndex = this.state.tools.size;
    const startInput = JSON.stringify(isRecord(block.input) ? block.input : {});
    this.state.tools.set(index, { index: toolIndex, startInput, sawJson: false });
    const call = {
      index: toolIndex,
      id: stringOr(block.id, toolCallId(this.requestId, toolIndex)),
      type: "function" as const,
      function: { name: stringOr(block.name, ""), arguments: "" },
    };
    out.push(this.chunk({ tool_calls: [call] }));
  }

  private delta(index: unknown, delta: unknown, out: string[]): void {
    if (!isRecord(delta)) return;
    if (delta.type === "text_delta") this.text(delta.text, out);
    // signature_delta closes a thinking block with a signature the client could not send back.
    if (delta.type === "thinking_delta") this.reasoning(delta.thinking, out);
    if (delta.type !== "input_json_delta" || typeof index !== "number") return;
    const tool = this.state.tools.get(index);
    const json = delta.partial_json;
    if (tool === undefined || typeof json !== "string" || json === "") return;
    tool.sawJson = true;
    this.state.output += json;
    out.push(this.chunk({ tool_calls: [{ index: tool.index, function: { arguments: json } }] }));
  }

  /**
   * A tool called without input streams no JSON (one empty partial_json), which would leave the client
   * `arguments: ""` to parse: it gets the start's input, `{}`, as the unstreamed answer has it.
   */
  private stopBlock(index: unknown, out: string[]): void {
    const tool = typeof index === "number" ? this.state.tools.get(index) : undefined;
    if (tool === undefined || tool.sawJson) return;
    tool.sawJson = true;
    this.state.output += tool.startInput;
    out.push(this.chunk({ tool_calls: [{ index: tool.index, function: { arguments: tool.startInput } }] }));
  }

  private text(text: unknown, out: string[]): void {
    if (typeof text !== "string" || text === "") return;
    this.state.output += text;
    out.push(this.chunk({ content: text }));
  }

  /** Thinking text goes out as `reasoning_content`, never as content; it is billed output like the answer. */
  private reasoning(text: unknown, out: string[]): void {
    if (typeof text !== "string" || text === "") return;
    this.state.output += text;
    out.push(this.chunk({ reasoning_content: text }));
  }

  private chunk(delta: Delta, finishReason: FinishReason | null = null): string {
    const chunk: ChatCompletionChunk = {
      id: this.state.id,
      object: "chat.completion.chunk",
      created: this.options.created,
      model: this.state.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    };
    return JSON.stringify(chunk);
  }
}
