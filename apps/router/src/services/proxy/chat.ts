import type { KeyRecord, ModelCatalogEntry } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { RouterDeps } from "../../deps.ts";
import type { ChatCompletionRequest } from "../../openai/requests.ts";
import type { ChatCompletion } from "../../openai/responses.ts";
import { generatedText } from "../../providers/common.ts";
import type { OpenedStream } from "../upstream/open-stream.ts";
import { chatPromptText, estimateUsage, tokensOf } from "../usage/estimate.ts";
import { chatMaxUsage } from "./budget.ts";
import { runCall } from "./call-setup.ts";
import { answerJson } from "./json-response.ts";
import { routeCall } from "./routed-call.ts";
import { streamResponse } from "./stream-response.ts";

function completionText(completion: ChatCompletion): string {
  let text = "";
  for (const choice of completion.choices ?? []) text += generatedText(choice.message);
  return text;
}

/** POST /v1/chat/completions for an admitted key: routed, translated, usage recorded. */
export async function proxyChat(
  c: Context,
  deps: RouterDeps,
  key: KeyRecord,
  body: ChatCompletionRequest,
): Promise<Response> {
  const stream = body.stream === true;
  const call = {
    modelId: body.model,
    capability: "chat" as const,
    operation: "chat" as const,
    stream,
    usage: (model: ModelCatalogEntry) => chatMaxUsage(body, model),
    promptTokens: () => tokensOf(chatPromptText(body)),
  };
  return runCall(c, deps, key, call, async (tracker, scope) => {
    if (stream) {
      const created = Math.floor(tracker.startedAt / 1000);
      const fallbackId = `chatcmpl-${tracker.requestId}`;
      const served = await routeCall<OpenedStream>(
        deps,
        tracker,
        scope.signal,
        (a, ctx) => a.chat.request(body, ctx, true),
        (a, ctx) => a.chat.stream(ctx, { id: fallbackId, created }),
      );
      return streamResponse({
        onEnd: scope.handOver(served.value.stream),
        opened: served.value,
        tracker,
        includeUsage: body.stream_options?.include_usage === true,
        object: "chat.completion.chunk",
        prompt: chatPromptText(body),
        fallbackId,
        headers: {},
      });
    }
    const served = await routeCall<unknown>(
      deps,
      tracker,
      scope.signal,
      (a, ctx) => a.chat.request(body, ctx, false),
      "json",
    );
    const { completion, usage: reported } = served.adapter.chat.response(served.value, served.ctx);
    const usage = reported ?? estimateUsage(chatPromptText(body), completionText(completion));
    return answerJson(c, tracker, completion, usage);
  });
}
