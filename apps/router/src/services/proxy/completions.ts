import type { KeyRecord, ModelCatalogEntry } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { RouterDeps } from "../../deps.ts";
import type { CompletionRequest } from "../../openai/requests.ts";
import type { Completion } from "../../openai/responses.ts";
import type { CallContext, ProviderAdapter } from "../../providers/types.ts";
import type { OpenedStream } from "../upstream/open-stream.ts";
import { estimateUsage, inputText, tokensOf } from "../usage/estimate.ts";
import { completionMaxUsage } from "./budget.ts";
import { runCall } from "./call-setup.ts";
import { chatAsCompletion, chatStreamAsCompletion, completionAsChat } from "./completions-via-chat.ts";
import { answerJson } from "./json-response.ts";
import { routeCall } from "./routed-call.ts";
import { streamResponse } from "./stream-response.ts";

/** POST /v1/completions: native on OpenAI-compatible providers, through chat everywhere else. */
export async function proxyCompletions(
  c: Context,
  deps: RouterDeps,
  key: KeyRecord,
  body: CompletionRequest,
): Promise<Response> {
  const stream = body.stream === true;
  const call = {
    modelId: body.model,
    capability: "completions" as const,
    operation: "text_completion" as const,
    stream,
    usage: (model: ModelCatalogEntry) => completionMaxUsage(body, model),
    promptTokens: () => tokensOf(inputText(body.prompt)),
  };
  return runCall(c, deps, key, call, async (tracker, scope) => {
    const prompt = inputText(body.prompt);
    // A provider's native /completions only for models that declare it (OpenAI answers 404 for chat models).
    const declaresCompletions = tracker.admitted.model.capabilities.includes("completions");
    const native = (adapter: ProviderAdapter) => (declaresCompletions ? adapter.completions : undefined);
    const fallbackId = `cmpl-${tracker.requestId}`;
    const options = { id: fallbackId, created: Math.floor(tracker.startedAt / 1000) };
    const transform = (adapter: ProviderAdapter, ctx: CallContext) =>
      native(adapter)?.stream(ctx, options) ?? chatStreamAsCompletion(adapter.chat.stream(ctx, options));
    const served = await routeCall<unknown>(
      deps,
      tracker,
      scope.signal,
      (a, ctx) =>
        native(a)?.request(body, ctx, stream) ?? a.chat.request(completionAsChat(body), ctx, stream),
      stream ? transform : "json",
    );
    const { adapter, ctx } = served;
    if (stream) {
      const opened = served.value as OpenedStream;
      return streamResponse({
        onEnd: scope.handOver(opened.stream),
        opened,
        tracker,
        includeUsage: body.stream_options?.include_usage === true,
        object: "text_completion",
        prompt,
        fallbackId,
        headers: {},
      });
    }
    const result =
      native(adapter)?.response(served.value, ctx) ?? translate(adapter.chat.response(served.value, ctx));
    const completion: Completion = result.completion;
    const usage =
      result.usage ?? estimateUsage(prompt, completion.choices.map((choice) => choice.text).join(""));
    return answerJson(c, tracker, completion, usage);
  });
}

function translate(result: ReturnType<RouterDeps["adapters"]["openai"]["chat"]["response"]>) {
  return { completion: chatAsCompletion(result.completion), usage: result.usage };
}
