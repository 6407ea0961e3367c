import { z } from "zod";
import { CacheControl, cacheBreakpoints, MAX_CACHE_BREAKPOINTS } from "./cache-control.ts";

/**
 * OpenAI's request shapes: the router's canonical format. Every provider adapter maps from these.
 * Unknown top-level fields pass through (`looseObject`) so newer OpenAI parameters reach OpenAI-compatible
 * upstreams untouched; what we act on is validated.
 */
const ImageUrlPart = z.object({
  type: z.literal("image_url"),
  image_url: z.object({ url: z.string().min(1), detail: z.enum(["auto", "low", "high"]).optional() }),
  cache_control: CacheControl.optional(),
});
const TextPart = z.object({
  type: z.literal("text"),
  text: z.string(),
  cache_control: CacheControl.optional(),
});
/**
 * Audio input is refused, like audio output: providers bill its tokens at their own (higher) prices, which
 * the usage they report and the catalog do not separate from text.
 */
export const AUDIO_INPUT_REFUSED =
  "audio input is not supported by this gateway: providers price audio tokens apart from text, and this gateway does not meter them";
export const ContentPart = z.discriminatedUnion("type", [TextPart, ImageUrlPart], {
  error: (issue) =>
    (issue.input as { type?: unknown } | undefined)?.type === "input_audio" ? AUDIO_INPUT_REFUSED : undefined,
});
export type ContentPart = z.infer<typeof ContentPart>;

export const ToolCall = z.object({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof ToolCall>;

const TextContent = z.union([z.string(), z.array(TextPart)]);

/** A breakpoint on a whole message marks its last content block (LiteLLM's convention). */
const MessageCacheControl = CacheControl.optional();

export const ChatMessage = z.discriminatedUnion("role", [
  z.object({
    role: z.literal("system"),
    content: TextContent,
    name: z.string().optional(),
    cache_control: MessageCacheControl,
  }),
  z.object({
    role: z.literal("developer"),
    content: TextContent,
    name: z.string().optional(),
    cache_control: MessageCacheControl,
  }),
  z.object({
    role: z.literal("user"),
    content: z.union([z.string(), z.array(ContentPart)]),
    name: z.string().optional(),
    cache_control: MessageCacheControl,
  }),
  z.object({
    role: z.literal("assistant"),
    content: z
      .union([z.string(), z.array(TextPart)])
      .nullable()
      .optional(),
    tool_calls: z.array(ToolCall).optional(),
    name: z.string().optional(),
    refusal: z.string().nullable().optional(),
    cache_control: MessageCacheControl,
  }),
  z.object({
    role: z.literal("tool"),
    content: TextContent,
    tool_call_id: z.string().min(1),
    cache_control: MessageCacheControl,
  }),
]);
export type ChatMessage = z.infer<typeof ChatMessage>;

export const FunctionTool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, { message: "must be 1-64 letters, digits, _ or -" }),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
  cache_control: CacheControl.optional(),
});
export type FunctionTool = z.infer<typeof FunctionTool>;

export const ToolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string().min(1) }) }),
]);
export type ToolChoice = z.infer<typeof ToolChoice>;

export const ResponseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);
export type ResponseFormat = z.infer<typeof ResponseFormat>;

const Stop = z.union([z.string(), z.array(z.string()).max(4)]).nullable();

/**
 * OpenAI parameters the gateway refuses rather than forwards: each would change what is billed or where
 * data goes behind the catalog's back. Unknown parameters not listed here are dropped, never forwarded.
 */
export const REFUSED_PARAMETERS: Readonly<Record<string, string>> = {
  store: "stored completions would keep your prompts in the platform's provider account",
  service_tier: "priority tiers are priced differently from the catalog",
  modalities: "audio output is not metered by this gateway",
  audio: "audio output is not metered by this gateway",
  prediction: "predicted outputs are not metered by this gateway",
  web_search_options: "web search is not metered by this gateway",
  models: "provider-side model routing would bypass the catalog and its tiers",
  route: "provider-side model routing would bypass the catalog and its tiers",
  provider: "provider-side routing preferences are set by the operator",
  plugins: "provider plugins are not metered by this gateway",
};

const REFUSED = Object.entries(REFUSED_PARAMETERS);

function refuseParameters(value: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const [name, reason] of REFUSED) {
    if (value[name] === undefined || value[name] === null || (name === "store" && value[name] === false))
      continue;
    ctx.addIssue({ code: "custom", path: [name], message: `is not supported by this gateway: ${reason}` });
  }
}
const Probability = z.number().min(0).max(1);

/** Anthropic refuses a request with more breakpoints; refused here, naming the first one too many. */
function limitBreakpoints(
  value: Pick<ChatCompletionRequest, "messages" | "tools">,
  ctx: z.RefinementCtx,
): void {
  const extra = cacheBreakpoints(value)[MAX_CACHE_BREAKPOINTS];
  if (!extra) return;
  ctx.addIssue({
    code: "custom",
    path: extra.path,
    message: `at most ${MAX_CACHE_BREAKPOINTS} cache_control breakpoints are allowed in one request`,
  });
}

export const ChatCompletionRequest = z
  .looseObject({
    model: z.string().min(1, { message: "is required" }),
    messages: z.array(ChatMessage).min(1, { message: "must contain at least one message" }),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: Probability.nullable().optional(),
    n: z.number().int().min(1).max(16).nullable().optional(),
    stop: Stop.optional(),
    seed: z.number().int().nullable().optional(),
    user: z.string().optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
    tools: z.array(FunctionTool).optional(),
    tool_choice: ToolChoice.optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: ResponseFormat.optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high", "xhigh"]).nullable().optional(),
    logit_bias: z.record(z.string(), z.number()).nullable().optional(),
    logprobs: z.boolean().nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  })
  .superRefine(refuseParameters)
  .superRefine(limitBreakpoints);
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const CompletionRequest = z
  .looseObject({
    model: z.string().min(1, { message: "is required" }),
    prompt: z.union([z.string(), z.array(z.string()).min(1)]),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: Probability.nullable().optional(),
    n: z.number().int().min(1).max(16).nullable().optional(),
    stop: Stop.optional(),
    seed: z.number().int().nullable().optional(),
    user: z.string().optional(),
    suffix: z.string().nullable().optional(),
    echo: z.boolean().nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    logit_bias: z.record(z.string(), z.number()).nullable().optional(),
    logprobs: z.number().int().min(0).max(5).nullable().optional(),
    best_of: z.number().int().min(1).max(20).nullable().optional(),
  })
  .superRefine(refuseParameters);
export type CompletionRequest = z.infer<typeof CompletionRequest>;

export const EmbeddingRequest = z
  .looseObject({
    model: z.string().min(1, { message: "is required" }),
    input: z.union([
      z.string(),
      z.array(z.string()).min(1).max(2048),
      z.array(z.number().int()).min(1),
      z.array(z.array(z.number().int()).min(1)).min(1),
    ]),
    encoding_format: z.enum(["float", "base64"]).optional(),
    dimensions: z.number().int().positive().optional(),
    user: z.string().optional(),
  })
  .superRefine(refuseParameters);
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;
