import { describe, expect, it } from "vitest";
import { ollamaAdapter } from "../../src/providers/ollama/index.ts";
import { openAIAdapter } from "../../src/providers/openai/index.ts";
import { chatRequest, contextFor } from "./gemini-ollama-helpers.ts";

// Admission holds a request's output at most at the model's max_output_tokens (outputAllowance), so no
// adapter may ask a provider for more: a client's larger limit is lowered to the cap.

describe("output limits above the model's cap", () => {
  const capped = (kind: "openai" | "ollama") => ({
    ...contextFor(kind, kind === "openai" ? "https://api.openai.com/v1" : "http://localhost:11434/", "m"),
    maxOutputTokens: 1_000,
  });

  it("OpenAI-compatible: max_tokens and max_completion_tokens are lowered to the cap, smaller ones kept", () => {
    const sent = (fields: Parameters<typeof chatRequest>[0]) =>
      JSON.parse(openAIAdapter.chat.request(chatRequest(fields), capped("openai"), false).body);
    expect(sent({ max_tokens: 50_000 }).max_tokens).toBe(1_000);
    expect(sent({ max_completion_tokens: 50_000 }).max_completion_tokens).toBe(1_000);
    expect(sent({ max_tokens: 200 }).max_tokens).toBe(200);
    // No limit from the client: none is added (the provider's default applies, as before).
    expect(sent({}).max_tokens).toBeUndefined();
  });

  it("Ollama: num_predict is lowered to the cap, a smaller one kept", () => {
    const options = (fields: Parameters<typeof chatRequest>[0]) =>
      JSON.parse(ollamaAdapter.chat.request(chatRequest(fields), capped("ollama"), false).body).options;
    expect(options({ max_tokens: 50_000 })).toEqual({ num_predict: 1_000 });
    expect(options({ max_completion_tokens: 300 })).toEqual({ num_predict: 300 });
  });
});
