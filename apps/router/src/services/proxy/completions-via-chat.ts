import { AppError } from "@cloudfreedom/shared";
import type { ChatCompletionRequest, CompletionRequest } from "../../openai/requests.ts";
import type { ChatCompletion, ChatCompletionChunk, Completion } from "../../openai/responses.ts";
import type { ChatStreamTransform } from "../../providers/types.ts";

/** A legacy completion request as one user message, for providers without a completions endpoint. */
export function completionAsChat(req: CompletionRequest): ChatCompletionRequest {
  const prompt = Array.isArray(req.prompt)
    ? req.prompt.length === 1
      ? req.prompt[0]
      : undefined
    : req.prompt;
  if (typeof prompt !== "string") {
    throw new AppError(
      "validation_failed",
      "prompt: only a single text prompt is supported for this model's provider",
      {
        field: "prompt",
      },
    );
  }
  const chat: ChatCompletionRequest = { model: req.model, messages: [{ role: "user", content: prompt }] };
  for (const field of ["max_tokens", "temperature", "top_p", "n", "stop", "seed", "user"] as const) {
    if (req[field] !== undefined) Object.assign(chat, { [field]: req[field] });
  }
  return chat;
}

export function chatAsCompletion(chat: ChatCompletion): Completion {
  const completion: Completion = {
    id: chat.id,
    object: "text_completion",
    created: chat.created,
    model: chat.model,
    choices: chat.choices.map((choice) => ({
      index: choice.index,
      text: choice.message.content ?? "",
      finish_reason: choice.finish_reason,
      logprobs: null,
    })),
  };
  if (chat.usage) completion.usage = chat.usage;
  return completion;
}

/** Wraps a chat stream transform so it emits `text_completion` chunks. */
export function chatStreamAsCompletion(inner: ChatStreamTransform): ChatStreamTransform {
  const convert = (chunks: string[]) =>
    chunks.flatMap((json) => {
      const chunk = JSON.parse(json) as ChatCompletionChunk;
      const choices = chunk.choices.flatMap((choice) =>
        // Some chunks carry no delta (Azure's asynchronous content-filter annotations).
        choice.delta?.content || choice.finish_reason
          ? [
              {
                index: choice.index,
                text: choice.delta?.content ?? "",
                finish_reason: choice.finish_reason,
                logprobs: null,
              },
            ]
          : [],
      );
      if (choices.length === 0) return [];
      return [
        JSON.stringify({
          id: chunk.id,
          object: "text_completion",
          created: chunk.created,
          model: chunk.model,
          choices,
        }),
      ];
    });
  return {
    push: (text) => convert(inner.push(text)),
    end: () => convert(inner.end()),
    usage: () => inner.usage(),
    outputText: () => inner.outputText(),
  };
}
