import { AppError } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest, ChatMessage } from "../../src/openai/requests.ts";
import { geminiAdapter } from "../../src/providers/gemini/index.ts";
import { chatRequest, contextFor, decodeFloat32, fixture, jsonFixture } from "./gemini-ollama-helpers.ts";

const ctx = contextFor(
  "gemini",
  "https://generativelanguage.googleapis.com/",
  "gemini-2.5-flash",
  "AIza-test-key",
);

function body(fields: Partial<ChatCompletionRequest>, stream = false): Record<string, unknown> {
  return JSON.parse(geminiAdapter.chat.request(chatRequest(fields), ctx, stream).body);
}

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected an AppError");
}

const weatherCall = (id: string, args = '{"city":"Paris"}') => ({
  id,
  type: "function" as const,
  function: { name: "get_weather", arguments: args },
});

describe("gemini request mapping", () => {
  it("addresses generateContent or the SSE stream with the key in a header, never in the URL", () => {
    const plain = geminiAdapter.chat.request(chatRequest({}), ctx, false);
    const streamed = geminiAdapter.chat.request(chatRequest({}), ctx, true);
    expect(plain.url).toBe(
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    );
    expect(streamed.url).toBe(
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    );
    expect(plain.headers).toEqual({ "content-type": "application/json", "x-goog-api-key": "AIza-test-key" });
    expect(plain.url).not.toContain("AIza");
  });

  it("hoists system and developer messages, maps roles and merges consecutive turns", () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hello" },
      { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
      { role: "user", content: [{ type: "text", text: "How are you?" }] },
      { role: "assistant", content: "Bien." },
      { role: "assistant", content: [{ type: "text", text: " Et vous ?" }] },
      { role: "user", content: "" },
    ];
    expect(body({ messages })).toEqual({
      systemInstruction: { parts: [{ text: "Be brief." }, { text: "Answer in French." }] },
      contents: [
        { role: "user", parts: [{ text: "Hello" }, { text: "How are you?" }] },
        { role: "model", parts: [{ text: "Bien." }, { text: " Et vous ?" }] },
      ],
    });
  });

  it("sends data URLs inline and http(s) images by reference", () => {
    const messages: ChatMessage[] = [
      {
        role: "user",
        content: [
          { type: "text", text: "Compare" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "image_url", image_url: { url: "https://example.com/cat.JPG?size=large" } },
          { type: "image_url", image_url: { url: "https://example.com/render?id=7" } },
        ],
      },
    ];
    expect(body({ messages }).contents).toEqual([
      {
        role: "user",
        parts: [
          { text: "Compare" },
          { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } },
          { fileData: { fileUri: "https://example.com/cat.JPG?size=large", mimeType: "image/jpeg" } },
          { fileData: { fileUri: "https://example.com/render?id=7" } },
        ],
      },
    ]);
  });

  it("rejects an image that is neither a data URL nor http(s), naming the field", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: [{ type: "image_url", image_url: { url: "ftp://example.com/cat.png" } }] },
    ];
    const error = thrown(() => body({ messages }));
    expect(error.code).toBe("validation_failed");
    expect(error.details).toEqual({ field: "messages[0].content[0].image_url.url" });
  });

  it("round-trips tool calls and results, finding each result's function name by call id", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "Weather and time in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          weatherCall("call_1"),
          { id: "call_2", type: "function", function: { name: "get_time", arguments: "" } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temp":21,"sky":"clear"}' },
      { role: "tool", tool_call_id: "call_2", content: "14:05" },
      {
        role: "assistant",
        content: "21°C at 14:05. Again?",
        tool_calls: [weatherCall("call_1", '{"city":"Lyon"}')],
      },
      { role: "tool", tool_call_id: "call_1", content: "18" },
    ];
    expect(body({ messages }).contents).toEqual([
      { role: "user", parts: [{ text: "Weather and time in Paris?" }] },
      {
        role: "model",
        parts: [
          {
            functionCall: { name: "get_weather", args: { city: "Paris" } },
            thoughtSignature: "skip_thought_signature_validator",
          },
          { functionCall: { name: "get_time", args: {} } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { temp: 21, sky: "clear" } } },
          { functionResponse: { name: "get_time", response: { output: "14:05" } } },
        ],
      },
      {
        role: "model",
        parts: [
          { text: "21°C at 14:05. Again?" },
          {
            functionCall: { name: "get_weather", args: { city: "Lyon" } },
            thoughtSignature: "skip_thought_signature_validator",
          },
        ],
      },
      { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "18" } } }] },
    ]);
  });

  it("rejects a tool result whose call id no earlier assistant message made", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "Hi" },
      { role: "tool", tool_call_id: "call_missing", content: "42" },
    ];
    const error = thrown(() => body({ messages }));
    expect(error.code).toBe("validation_failed");
    expect(error.message).toBe(
      'messages[1].tool_call_id: no earlier assistant message has a tool call with id "call_missing"',
    );
  });

  it("rejects tool-call arguments that are not a JSON object, naming the field", () => {
    const messages: ChatMessage[] = [
      { role: "assistant", content: null, tool_calls: [weatherCall("c", "[1,2]")] },
    ];
    expect(thrown(() => body({ messages })).details).toEqual({
      field: "messages[0].tool_calls[0].function.arguments",
    });
  });

  it("declares tools with their JSON Schema reduced to the keywords Gemini supports", () => {
    const parameters = {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      properties: {
        city: { type: "string", minLength: 1, pattern: "^[A-Z]", description: "City" },
        unit: { const: "celsius" },
        default: { $ref: "#/definitions/Day" },
      },
      required: ["city"],
      additionalProperties: false,
      definitions: { Day: { type: "string", enum: ["mon", "tue"], examples: ["mon"] } },
    };
    const sent = body({
      tools: [
        {
          type: "function",
          function: { name: "get_weather", description: "Weather", parameters, strict: true },
        },
        { type: "function", function: { name: "ping" } },
      ],
    });
    expect(sent.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "Weather",
            parametersJsonSchema: {
              type: "object",
              properties: {
                city: { type: "string", description: "City" },
                unit: { enum: ["celsius"] },
                default: { $ref: "#/$defs/Day" },
              },
              required: ["city"],
              additionalProperties: false,
              $defs: { Day: { type: "string", enum: ["mon", "tue"] } },
            },
          },
          { name: "ping" },
        ],
      },
    ]);
    expect(sent.toolConfig).toBeUndefined();
  });

  it.each([
    ["none", { mode: "NONE" }],
    ["auto", { mode: "AUTO" }],
    ["required", { mode: "ANY" }],
    [
      { type: "function", function: { name: "ping" } },
      { mode: "ANY", allowedFunctionNames: ["ping"] },
    ],
  ] as const)("maps tool_choice %j to functionCallingConfig", (choice, config) => {
    const tools = [{ type: "function" as const, function: { name: "ping" } }];
    expect(body({ tools, tool_choice: choice }).toolConfig).toEqual({ functionCallingConfig: config });
  });

  it("maps sampling parameters into generationConfig and omits it when none is set", () => {
    const sent = body({
      max_tokens: 50,
      max_completion_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      stop: "END",
      n: 2,
      seed: 7,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      user: "u-1",
    });
    expect(sent.generationConfig).toEqual({
      temperature: 0.2,
      topP: 0.9,
      candidateCount: 2,
      seed: 7,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
      maxOutputTokens: 100,
      stopSequences: ["END"],
    });
    expect(body({ max_tokens: 50 }).generationConfig).toEqual({ maxOutputTokens: 50 });
    expect("generationConfig" in body({})).toBe(false);
  });

  it("asks for JSON for json_object and constrains it with responseJsonSchema for json_schema", () => {
    const schema = {
      type: "object",
      properties: { a: { type: "integer", exclusiveMinimum: 0 } },
      required: ["a"],
    };
    expect(body({ response_format: { type: "json_object" } }).generationConfig).toEqual({
      responseMimeType: "application/json",
    });
    expect(
      body({ response_format: { type: "json_schema", json_schema: { name: "r", schema, strict: true } } })
        .generationConfig,
    ).toEqual({
      responseMimeType: "application/json",
      responseJsonSchema: { type: "object", properties: { a: { type: "integer" } }, required: ["a"] },
    });
    expect(
      body({ response_format: { type: "json_schema", json_schema: { name: "r" } } }).generationConfig,
    ).toEqual({
      responseMimeType: "application/json",
    });
    expect("generationConfig" in body({ response_format: { type: "text" } })).toBe(false);
  });
});

describe("gemini response mapping", () => {
  const respond = (name: string) => geminiAdapter.chat.response(jsonFixture("gemini", name), ctx);

  it("joins the text parts without thoughts, gives thoughts as reasoning_content and counts them inside the output", () => {
    const { completion, usage } = respond("generate-text.json");
    expect(completion).toEqual({
      id: "chatcmpl-IZI2acSKMoWl0-kPmYj2yQc",
      object: "chat.completion",
      created: expect.any(Number),
      model: "gemini-2.5-flash",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: "Bonjour ! Comment ça va ? 👋",
            reasoning_content: "The user wants a short greeting in French.",
          },
          finish_reason: "stop",
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: 1203,
        completion_tokens: 92,
        total_tokens: 1295,
        prompt_tokens_details: { cached_tokens: 1024 },
        completion_tokens_details: { reasoning_tokens: 80 },
      },
    });
    expect(usage).toEqual({
      input: 1203,
      cached_input: 1024,
      cache_write: 0,
      cache_write_1h: 0,
      output: 92,
      reasoning: 80,
      estimated: false,
    });
  });

  it("turns function calls into tool calls with generated ids and JSON string arguments", () => {
    const { completion, usage } = respond("generate-tool-calls.json");
    expect(completion.choices).toEqual([
      {
        index: 0,
        message: {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_01TEST_0",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' },
            },
            {
              id: "call_01TEST_1",
              type: "function",
              function: { name: "get_time", arguments: '{"timezone":"Europe/Paris"}' },
            },
          ],
        },
        finish_reason: "tool_calls",
        logprobs: null,
      },
    ]);
    expect(usage).toEqual({
      input: 83,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 118,
      reasoning: 104,
      estimated: false,
    });
  });

  it("keeps an id Gemini gives a function call", () => {
    const body = {
      candidates: [
        {
          content: { parts: [{ functionCall: { id: "fc_9", name: "ping", args: {} } }] },
          finishReason: "STOP",
        },
      ],
    };
    expect(geminiAdapter.chat.response(body, ctx).completion.choices[0]?.message.tool_calls?.[0]?.id).toBe(
      "fc_9",
    );
  });

  it("maps MAX_TOKENS to length and safety stops to content_filter", () => {
    expect(respond("generate-length.json").completion.choices[0]?.finish_reason).toBe("length");
    expect(respond("generate-length.json").completion.model).toBe("gemini-2.5-flash-lite");
    const filtered = respond("generate-safety.json");
    expect(filtered.completion.choices[0]).toEqual({
      index: 0,
      message: { role: "assistant", content: "" },
      finish_reason: "content_filter",
      logprobs: null,
    });
    expect(filtered.usage).toEqual({
      input: 17,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 0,
      reasoning: 0,
      estimated: false,
    });
    for (const reason of ["RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"]) {
      const answer = { candidates: [{ content: { parts: [{ text: "x" }] }, finishReason: reason }] };
      expect(geminiAdapter.chat.response(answer, ctx).completion.choices[0]?.finish_reason).toBe(
        "content_filter",
      );
    }
  });

  it("answers a blocked prompt with a clear invalid_request error", () => {
    const error = thrown(() => respond("prompt-blocked.json"));
    expect(error.code).toBe("invalid_request");
    expect(error.message).toMatch(/^Gemini blocked the prompt \(PROHIBITED_CONTENT\): /);
    expect(error.details).toEqual({ block_reason: "PROHIBITED_CONTENT" });
  });

  it("reports an answer without candidates as an upstream error", () => {
    expect(thrown(() => geminiAdapter.chat.response({ modelVersion: "x" }, ctx)).code).toBe("upstream_error");
  });
});

describe("gemini failure mapping", () => {
  const none = new Headers();

  it("treats RESOURCE_EXHAUSTED as a retryable rate limit, waiting as long as RetryInfo says", () => {
    const failure = geminiAdapter.failure(429, fixture("gemini", "error-rate-limited.json"), none);
    expect(failure).toMatchObject({
      status: 429,
      code: "rate_limited",
      retryable: true,
      retryAfterMs: 40_000,
    });
    expect(failure.message).toMatch(/^Gemini is rate limiting: You exceeded your current quota/);
    const withHeader = geminiAdapter.failure(
      429,
      fixture("gemini", "error-rate-limited.json"),
      new Headers({ "retry-after": "7" }),
    );
    expect(withHeader.retryAfterMs).toBe(7_000);
  });

  it("blames the operator, not the caller, for a key Gemini rejects with a 400", () => {
    const failure = geminiAdapter.failure(400, fixture("gemini", "error-api-key.json"), none);
    expect(failure).toEqual({
      status: 400,
      code: "upstream_error",
      message: "Gemini refused the platform's credentials; the operator must fix the provider key",
      retryable: false,
      fallback: true,
      retryAfterMs: null,
    });
  });

  it("sends a FAILED_PRECONDITION (the API not offered in the server's region) to another deployment", () => {
    const region = JSON.stringify({
      error: {
        code: 400,
        message: "User location is not supported for the API use.",
        status: "FAILED_PRECONDITION",
      },
    });
    expect(geminiAdapter.failure(400, region, none)).toEqual({
      status: 400,
      code: "upstream_error",
      message: "Gemini: User location is not supported for the API use.",
      retryable: false,
      fallback: true,
      retryAfterMs: null,
    });
  });

  it("retries an overloaded model and passes a plain 400 back to the caller", () => {
    expect(geminiAdapter.failure(503, fixture("gemini", "error-unavailable.json"), none)).toMatchObject({
      code: "upstream_error",
      retryable: true,
    });
    const bad = JSON.stringify({
      error: { code: 400, message: "Invalid value at 'contents'", status: "INVALID_ARGUMENT" },
    });
    expect(geminiAdapter.failure(400, bad, none)).toEqual({
      status: 400,
      code: "invalid_request",
      message: "Gemini: Invalid value at 'contents'",
      retryable: false,
      retryAfterMs: null,
    });
  });

  it("reads the array-wrapped error body and survives a body that is not JSON", () => {
    const wrapped = `[${fixture("gemini", "error-unavailable.json")}]`;
    expect(geminiAdapter.failure(503, wrapped, none).message).toBe(
      "Gemini failed (503): The model is overloaded. Please try again later.",
    );
    expect(geminiAdapter.failure(502, "<html>Bad Gateway</html>", none)).toMatchObject({
      code: "upstream_error",
      retryable: true,
      message: "Gemini failed (502): <html>Bad Gateway</html>",
    });
  });
});

describe("gemini embeddings", () => {
  const embeddings = geminiAdapter.embeddings;
  if (!embeddings) throw new Error("gemini has embeddings");
  const embedCtx = contextFor(
    "gemini",
    "https://generativelanguage.googleapis.com",
    "gemini-embedding-001",
    "AIza-k",
  );

  it("batches every input into one batchEmbedContents call", () => {
    const req = embeddings.request({ model: "embed", input: ["first", "second"], dimensions: 768 }, embedCtx);
    expect(req.url).toBe(
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents",
    );
    expect(req.headers["x-goog-api-key"]).toBe("AIza-k");
    const part = (text: string) => ({
      model: "models/gemini-embedding-001",
      content: { parts: [{ text }] },
      outputDimensionality: 768,
    });
    expect(JSON.parse(req.body)).toEqual({ requests: [part("first"), part("second")] });
  });

  it("refuses token-id input and batches above Gemini's limit of 100, naming the field", () => {
    expect(thrown(() => embeddings.request({ model: "e", input: [1, 2, 3] }, embedCtx)).details).toEqual({
      field: "input",
    });
    const many = Array.from({ length: 101 }, (_, i) => `t${i}`);
    expect(thrown(() => embeddings.request({ model: "e", input: many }, embedCtx)).message).toBe(
      "input: Gemini embeds at most 100 texts per request",
    );
  });

  it("returns floats or little-endian float32 base64 with an estimated token count", () => {
    const answer = jsonFixture("gemini", "embed-batch.json");
    const req = { model: "embed", input: ["first text", "second"] };
    const floats = embeddings.response(answer, embedCtx, req);
    expect(floats.list).toEqual({
      object: "list",
      data: [
        {
          object: "embedding",
          index: 0,
          embedding: [0.013168523, -0.008711934, -0.046782676, 0.00069968984],
        },
        { object: "embedding", index: 1, embedding: [-0.0046790373, 0.020159023, -0.01784613, 0.03125] },
      ],
      model: "gemini-embedding-001",
      usage: { prompt_tokens: 5, total_tokens: 5 },
    });
    expect(floats.usage).toEqual({
      input: 5,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 0,
      reasoning: 0,
      estimated: true,
    });
    const base64 = embeddings.response(answer, embedCtx, { ...req, encoding_format: "base64" });
    const first = base64.list.data[0]?.embedding;
    expect(typeof first).toBe("string");
    expect(decodeFloat32(String(first))).toEqual(
      [0.013168523, -0.008711934, -0.046782676, 0.00069968984].map(Math.fround),
    );
  });

  it("reports a short answer as an upstream error rather than misaligned vectors", () => {
    expect(
      thrown(() =>
        embeddings.response({ embeddings: [{ values: [1] }] }, embedCtx, { model: "e", input: ["a", "b"] }),
      ).code,
    ).toBe("upstream_error");
  });
});
