/**
 * What an emulator should do with a request instead of (or on top of) its normal answer. Every field is
 * optional; an empty behaviour is the normal, successful answer.
 */
export interface Behaviour {
  /** Answer with this HTTP status and a provider-shaped error body (or `body`). */
  status?: number;
  /** Replaces the error body of `status`, or the error payload of a mid-stream `error-event`. */
  body?: unknown;
  /** Extra response headers, e.g. `{ "retry-after": "2" }`. Applied to error and normal answers. */
  headers?: Record<string, string>;
  /** Wait this long before sending anything. */
  delayMs?: number;
  /** Wait this long between streamed frames. */
  chunkDelayMs?: number;
  /**
   * Send this many stream frames (SSE events / NDJSON lines), then fail as `mode` says. 0 in `error-event`
   * mode is a 200 whose first event is the error, as providers do when they fail before any content.
   */
  failAfterChunks?: number;
  /**
   * `error-event` (default): the provider's own in-stream error, then end. `disconnect`: destroy the socket.
   * `stall`: send nothing more and keep the connection open (a stalled provider).
   */
  mode?: "error-event" | "disconnect" | "stall";
  /** Destroy the connection without sending a response (a connection reset, for any endpoint). */
  disconnect?: boolean;
  /** Never answer; the request stays open until the client gives up or the emulator stops. */
  hang?: boolean;
  /** Leave usage out of the response or stream. */
  omitUsage?: boolean;
  /** Prompt tokens reported as read from cache. */
  cachedTokens?: number;
  /** Prompt tokens reported as written to cache (Anthropic `cache_creation_input_tokens`). */
  cacheCreationTokens?: number;
  /**
   * Of `cacheCreationTokens`, those written to the 1-hour cache: the usage then also carries Anthropic's
   * `cache_creation: { ephemeral_5m_input_tokens, ephemeral_1h_input_tokens }` split.
   */
  cacheCreation1hTokens?: number;
  /** Reasoning / thinking tokens reported on top of the visible output. */
  reasoningTokens?: number;
  /**
   * Anthropic only, when the request enables thinking: a `redacted_thinking` block (reasoning the safety
   * systems encrypted) follows the thinking block.
   */
  redactedThinking?: boolean;
  /** Reply with this text instead of the echo. */
  reply?: string;
  /** Reply with a call to this tool, whatever the request offered. */
  toolCall?: { name: string; arguments: Record<string, unknown> | string };
  /** Gemini only: block the prompt (`promptFeedback.blockReason`) or the candidate (`finishReason`). */
  safetyBlock?: "prompt" | "candidate";
}

export const NO_BEHAVIOUR: Behaviour = Object.freeze({});

interface Queued {
  behaviour: Behaviour;
  remaining: number;
}

/** FIFO of behaviours, each for a number of requests, falling back to a default. */
export class BehaviourQueue {
  private queue: Queued[] = [];
  private fallback: Behaviour = NO_BEHAVIOUR;

  enqueue(behaviour: Behaviour, times = 1): void {
    if (times > 0) this.queue.push({ behaviour, remaining: times });
  }

  setDefault(behaviour?: Behaviour): void {
    this.fallback = behaviour ?? NO_BEHAVIOUR;
  }

  next(): Behaviour {
    const head = this.queue[0];
    if (!head) return this.fallback;
    head.remaining--;
    if (head.remaining === 0) this.queue.shift();
    return head.behaviour;
  }

  get pending(): number {
    let total = 0;
    for (const item of this.queue) total += item.remaining;
    return total;
  }

  clear(): void {
    this.queue = [];
    this.fallback = NO_BEHAVIOUR;
  }
}
