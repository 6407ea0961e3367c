import type { Behaviour } from "../core/behaviour.ts";
import { embedText, float32Base64 } from "../core/embedding.ts";
import { asArray, asNumber, field } from "../core/json.ts";
import { countTokens } from "../core/tokens.ts";
import type { Reply } from "../core/types.ts";

/** Inputs as texts plus their token count: strings count with `countTokens`, token-id arrays by length. */
export function embeddingInputs(input: unknown): { texts: string[]; tokens: number } | undefined {
  if (typeof input === "string") return { texts: [input], tokens: countTokens(input) };
  const list = asArray(input);
  if (!list || list.length === 0) return undefined;
  if (list.every((item) => typeof item === "number")) return { texts: [list.join(" ")], tokens: list.length };
  const texts: string[] = [];
  let tokens = 0;
  for (const item of list) {
    if (typeof item === "string") {
      texts.push(item);
      tokens += countTokens(item);
    } else {
      const ids = asArray(item);
      if (!ids) return undefined;
      texts.push(ids.join(" "));
      tokens += ids.length;
    }
  }
  return { texts, tokens };
}

/** `POST /v1/embeddings`: float arrays, or base64 float32 with `encoding_format: "base64"`. */
export function respondEmbeddings(
  body: unknown,
  behaviour: Behaviour,
  model: string,
  dimensions: number,
): Reply {
  const inputs = embeddingInputs(field(body, "input"));
  if (!inputs) {
    return {
      kind: "json",
      status: 400,
      body: {
        error: {
          message:
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
          type: "invalid_request_error",
          param: null,
          code: null,
        },
      },
    };
  }
  const size = asNumber(field(body, "dimensions")) ?? dimensions;
  const base64 = field(body, "encoding_format") === "base64";
  const data = inputs.texts.map((text, index) => {
    const values = embedText(text, size);
    return { object: "embedding", index, embedding: base64 ? float32Base64(values) : values };
  });
  const response: Record<string, unknown> = { object: "list", data, model };
  if (!behaviour.omitUsage) response.usage = { prompt_tokens: inputs.tokens, total_tokens: inputs.tokens };
  return { kind: "json", status: 200, body: response };
}

const MODEL_CREATED = 1_715_367_049;

export function modelObject(id: string) {
  return { id, object: "model", created: MODEL_CREATED, owned_by: "system" };
}

export function respondModels(models: readonly string[]): Reply {
  return { kind: "json", status: 200, body: { object: "list", data: models.map(modelObject) } };
}
