import { failureFromStatus, type GeneratedPart, generatedText, tryJson } from "../common.ts";
import { DeferredFailure } from "../deferred-failure.ts";
import { SseParser } from "../sse.ts";
import type { ChatStreamTransform, NormalizedUsage, UpstreamFailure } from "../types.ts";
import { UpstreamStreamError } from "../types.ts";
import { fromOpenAIUsage } from "./usage.ts";

// Key detection without parsing every chunk. Whitespace-tolerant: Python servers write `"usage": {`.
// In JSON these can only match keys, since a quote inside a string value is escaped.
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const NO_CHOICES = /"choices"\s*:\s*\[\s*\]/;
const ERROR_KEY = /"error"\s*:/;

interface ChunkShape {
  choices?: Array<{
    text?: string;
    delta?: GeneratedPart;
  }>;
  usage?: unknown;
  error?: { message?: string; code?: string | number | null; type?: string };
}

/**
 * OpenAI-compatible streams pass through as they are, less usage (counted here, sent by the router): a chunk
 * is parsed only when it carries usage or an error (cheap substring checks first), so the common chunk costs
 * no JSON work. Works for chat and legacy completion chunks alike.
 */
export class OpenAIPassThroughStream implements ChatStreamTransform {
  private readonly parser = new SseParser();
  private readonly seen: string[] = [];
  private usageSoFar: NormalizedUsage | null = null;
  private readonly failures = new DeferredFailure();

  constructor(private readonly provider: string) {}

  push(text: string): string[] {
    return this.failures.translate(this.parser.push(text), (event, out) => this.handle(event.data, out));
  }

  end(): string[] {
    const out = this.failures.translate(this.parser.end(), (event, chunks) =>
      this.handle(event.data, chunks),
    );
    this.failures.raise();
    return out;
  }

  usage(): NormalizedUsage | null {
    return this.usageSoFar;
  }

  /** What the stream generated so far: answer, reasoning (billed output like the answer) and tool calls. */
  outputText(): string {
    let text = "";
    for (const data of this.seen) {
      const chunk = tryJson(data) as ChunkShape | undefined;
      for (const choice of chunk?.choices ?? []) text += (choice.text ?? "") + generatedText(choice.delta);
    }
    return text;
  }

  private handle(data: string, out: string[]): void {
    if (data === "[DONE]") return;
    if (ERROR_KEY.test(data)) this.raiseIfError(data);
    const hasUsage = USAGE_OBJECT.test(data);
    // Azure opens with a choice-less `prompt_filter_results` frame; OpenAI clients expect every chunk
    // but the usage chunk to carry choices, so it is dropped.
    if (!hasUsage && NO_CHOICES.test(data)) return;
    if (hasUsage) {
      const chunk = tryJson(data) as ChunkShape | undefined;
      this.usageSoFar = fromOpenAIUsage(chunk?.usage) ?? this.usageSoFar;
      if (chunk) {
        if ((chunk.choices ?? []).length === 0) return;
        // Some OpenAI-compatible servers attach usage to the last content chunk: keep the content only.
        const { usage: _dropped, ...rest } = chunk;
        data = JSON.stringify(rest);
      }
    }
    this.seen.push(data);
    out.push(data);
  }

  private raiseIfError(data: string): void {
    const chunk = tryJson(data) as ChunkShape | undefined;
    if (!chunk?.error) return;
    const message = chunk.error.message ?? "unknown error";
    const status = streamErrorStatus(chunk.error);
    const failure: UpstreamFailure =
      status === null
        ? {
            status: 502,
            code: "upstream_error",
            message: `${this.provider} stream failed: ${message}`,
            retryable: false,
            retryAfterMs: null,
          }
        : failureFromStatus(status, message, new Headers(), this.provider);
    throw new UpstreamStreamError(failure);
  }
}

/**
 * An error inside a stream has no HTTP status of its own: OpenAI's `type` (`server_error`), a rate-limit code,
 * or the status OpenRouter and vLLM put in `code` stand in for one, so an overload before any content can go
 * to another deployment. Anything else is not known to be worth another attempt.
 */
function streamErrorStatus(error: NonNullable<ChunkShape["error"]>): number | null {
  if (typeof error.code === "number" && error.code >= 400 && error.code < 600) return error.code;
  if (error.type === "server_error" || error.code === "server_error") return 500;
  if (error.code === "rate_limit_exceeded") return 429;
  return null;
}
