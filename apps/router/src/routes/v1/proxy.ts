import { readJson } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { RouterDeps } from "../../deps.ts";
import { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../openai/requests.ts";
import { proxyChat } from "../../services/proxy/chat.ts";
import { proxyCompletions } from "../../services/proxy/completions.ts";
import { proxyEmbeddings } from "../../services/proxy/embeddings.ts";
import { keyAuth } from "./key-auth.ts";

/** The OpenAI-compatible endpoints: authenticate, validate, hand to the proxy. */
export function registerProxyRoutes(app: Hono, deps: RouterDeps): void {
  const auth = keyAuth(deps);
  app.post("/v1/chat/completions", auth, async (c) =>
    proxyChat(c, deps, c.get("key"), await readJson(c, ChatCompletionRequest)),
  );
  app.post("/v1/completions", auth, async (c) =>
    proxyCompletions(c, deps, c.get("key"), await readJson(c, CompletionRequest)),
  );
  app.post("/v1/embeddings", auth, async (c) =>
    proxyEmbeddings(c, deps, c.get("key"), await readJson(c, EmbeddingRequest)),
  );
}
