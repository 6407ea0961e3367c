import { AppError, type KeyRecord } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { RouterDeps } from "../../deps.ts";
import type { EmbeddingRequest } from "../../openai/requests.ts";
import { makeUsage } from "../../providers/common.ts";
import { inputTokens, tokensOf } from "../usage/estimate.ts";
import { embeddingMaxUsage } from "./budget.ts";
import { runCall } from "./call-setup.ts";
import { costHeaders } from "./json-response.ts";
import { routeCall } from "./routed-call.ts";

/** POST /v1/embeddings. */
export async function proxyEmbeddings(
  c: Context,
  deps: RouterDeps,
  key: KeyRecord,
  body: EmbeddingRequest,
): Promise<Response> {
  const call = {
    modelId: body.model,
    capability: "embeddings" as const,
    operation: "embeddings" as const,
    stream: false,
    usage: () => embeddingMaxUsage(body),
    promptTokens: () => inputTokens(body.input, tokensOf),
  };
  return runCall(c, deps, key, call, async (tracker, scope) => {
    const served = await routeCall<unknown>(
      deps,
      tracker,
      scope.signal,
      (adapter, ctx) => {
        if (!adapter.embeddings) {
          throw new AppError(
            "invalid_request",
            `The provider of "${body.model}" (${ctx.target.name}) serves no embeddings`,
          );
        }
        return adapter.embeddings.request(body, ctx);
      },
      "json",
    );
    const embeddings = served.adapter.embeddings;
    if (!embeddings) throw new AppError("internal_error", "embeddings adapter vanished");
    const { list, usage: reported } = embeddings.response(served.value, served.ctx, body);
    const usage = reported.estimated
      ? makeUsage(inputTokens(body.input, tokensOf), 0, { estimated: true })
      : reported;
    // The body says what was billed: a provider's guess (or no usage at all) gives way to our count.
    list.usage = { prompt_tokens: usage.input, total_tokens: usage.input };
    const billed = tracker.finish({ usage, status: "success", responseModel: list.model });
    return c.json(list, 200, { ...tracker.headers(), ...costHeaders(billed, usage.estimated) });
  });
}
