import { AppError, type KeyRecord } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { RouterDeps } from "../../deps.ts";
import type { EmbeddingRequest } from "../../openai/requests.ts";
import { estimateUsage, inputText } from "../usage/estimate.ts";
import { embeddingMaxUsage } from "./budget.ts";
import { requestScope, startCall } from "./call-setup.ts";
import { costHeaders } from "./json-response.ts";
import { routeCall } from "./routed-call.ts";

/** POST /v1/embeddings. */
export async function proxyEmbeddings(
  c: Context,
  deps: RouterDeps,
  key: KeyRecord,
  body: EmbeddingRequest,
): Promise<Response> {
  const tracker = await startCall(c, deps, key, {
    modelId: body.model,
    capability: "embeddings",
    operation: "embeddings",
    stream: false,
    usage: () => embeddingMaxUsage(body),
  });
  const scope = requestScope(c, deps);
  const signal = scope.signal;
  try {
    const served = await routeCall<unknown>(
      deps,
      tracker,
      signal,
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
    const usage = reported.estimated ? estimateUsage(inputText(body.input), "") : reported;
    const billed = tracker.finish({ usage, status: "success", responseModel: list.model });
    return c.json(list, 200, { ...tracker.headers(), ...costHeaders(billed, usage.estimated) });
  } catch (error) {
    tracker.fail(error);
    throw error;
  } finally {
    scope.dispose();
  }
}
