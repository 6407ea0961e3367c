import { AppError } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest, ChatMessage } from "../../src/openai/requests.ts";
import { ollamaAdapter } from "../../src/providers/ollama/index.ts";
import { chatRequest, contextFor, decodeFloat32, fixture, jsonFixture } from "./gemini-ollama-helpers.ts";

const ctx = contextFor("ollama", "http://localhost:11434/", "llama3.2");

function body(fields: Partial<ChatCompletionRequest>, stream = false): Record<string, unknown> {
  return JSON.parse(ollamaAdapter.chat.request(chatRequest(fields), ctx, stream).body);
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

describe("ollama request mapping", () => {
  it("posts to /api/chat with stream set explicitly and no auth header unless a key is configured", () => {
    const plain = ollamaAdapter.chat.request(chatRequest({}), ctx, false);
    expect(plain.url).toBe("http://localhost:11434/api/chat");
    expect(plain.headers).toEqual({ "content-type": "application/json" });
    expect(JSON.parse(plain.body)).toEqual({
      model: "llama3.2",
      messages: [{ role: "user", content: "Hi" }],
      stream: false,
    });
    expect(body({}, true).stream).toBe(true);
    const keyed = ollamaAdapter.chat.request(
      chatRequest({}),
      contextFor("ollama", "https://proxy.example", "m", "k-1"),
      true,
    );
    expect(keyed.headers.authorization).toBe("Bearer k-1");
  });

  it("maps system, developer, user images (base64 without the data-URL prefix) and assistant turns", () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "Be brief." },
      { role: "developer", content: [{ type: "text", text: "Use metric." }] },
      {
        role: "user",
        content: [
          { type: "text", text: "What is " },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "text", text: "this?" },
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } },
        ],
      },
      { role: "assistant", content: "A cat." },
    ];
    expect(body({ messages }).messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "system", content: "Use metric." },
      { role: "user", content: "What is this?", images: ["iVBORw0KGgo=", "/9j/4AAQ"] },
      { role: "assistant", content: "A cat." },
    ]);
  });

  it("rejects an image link, naming the field", () => {
    const link: ChatMessage[] = [
      { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] },
    ];
    const error = thrown(() => body({ messages: link }));
    expect(error.code).toBe("validation_failed");
    expect(error.details).toEqual({ field: "messages[0].content[0].image_url.url" });
  });

  it("sends tool-call arguments as objects and tool results with their call id and function name", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "Weather?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "21°C" },
      { role: "tool", tool_call_id: "call_unknown", content: "?" },
    ];
    expect(body({ messages }).messages).toEqual([
      { role: "user", content: "Weather?" },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ id: "call_1", function: { name: "get_weather", arguments: { city: "Paris" } } }],
      },
      { role: "tool", content: "21°C", tool_call_id: "call_1", tool_name: "get_weather" },
      { role: "tool", content: "?", tool_call_id: "call_unknown" },
    ]);
    const bad: ChatMessage[] = [
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{" } }],
      },
    ];
    expect(thrown(() => body({ messages: bad })).message).toBe(
      "messages[0].tool_calls[0].function.arguments: must be valid JSON",
    );
  });

  it("offers tools in OpenAI's shape, honouring tool_choice none and a named function", () => {
    const tools = [
      {
        type: "function" as const,
        function: { name: "get_weather", description: "Weather", parameters: { type: "object" } },
      },
      { type: "function" as const, function: { name: "ping" } },
    ];
    const offered = [
      {
        type: "function",
        function: { name: "get_weather", description: "Weather", parameters: { type: "object" } },
      },
      { type: "function", function: { name: "ping" } },
    ];
    expect(body({ tools }).tools).toEqual(offered);
    expect(body({ tools, tool_choice: "required" }).tools).toEqual(offered);
    expect("tools" in body({ tools, tool_choice: "none" })).toBe(false);
    expect(body({ tools, tool_choice: { type: "function", function: { name: "ping" } } }).tools).toEqual([
      offered[1],
    ]);
  });

  it("maps sampling parameters into options and JSON modes into format", () => {
    expect(
      body({
        max_tokens: 10,
        max_completion_tokens: 64,
        temperature: 0,
        top_p: 0.5,
        stop: ["\n\n"],
        seed: 3,
        presence_penalty: 1,
      }).options,
    ).toEqual({ temperature: 0, top_p: 0.5, seed: 3, presence_penalty: 1, num_predict: 64, stop: ["\n\n"] });
    expect("options" in body({})).toBe(false);
    const schema = { type: "object", properties: { age: { type: "integer" } }, required: ["age"] };
    expect(body({ response_format: { type: "json_object" } }).format).toBe("json");
    expect(
      body({ response_format: { type: "json_schema", json_schema: { name: "p", schema } } }).format,
    ).toEqual(schema);
    expect(body({ response_format: { type: "json_schema", json_schema: { name: "p" } } }).format).toBe(
      "json",
    );
    expect("format" in body({ response_format: { type: "text" } })).toBe(false);
  });

  it("refuses n above 1, which Ollama cannot serve", () => {
    expect(thrown(() => body({ n: 2 })).details).toEqual({ field: "n" });
  });
});

describe("ollama response mapping", () => {
  const respond = (name: string) => ollamaAdapter.chat.response(jsonFixture("ollama", name), ctx);

  it("maps the message, the finish reason and the counts, cached prompt tokens included", () => {
    const { completion, usage } = respond("chat.json");
    expect(completion).toEqual({
      id: "chatcmpl-req_01TEST",
      object: "chat.completion",
      created: Math.floor(Date.parse("2025-10-26T17:15:24.166576Z") / 1000),
      model: "llama3.2",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello! How are you today? 😊" },
          finish_reason: "stop",
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: 26,
        completion_tokens: 298,
        total_tokens: 324,
        prompt_tokens_details: { cached_tokens: 16 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    expect(usage).toEqual({
      input: 26,
      cached_input: 16,
      cache_write: 0,
      cache_write_1h: 0,
      output: 298,
      reasoning: 0,
      estimated: false,
    });
  });

  it("turns object arguments into JSON strings, keeps server ids and gives thinking as reasoning_content", () => {
    const { completion } = respond("chat-tool-calls.json");
    expect(completion.model).toBe("qwen3");
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: null,
        reasoning_content: "I should call the weather tool.",
        tool_calls: [
          {
            id: "call_ts8w0dff",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' },
          },
          {
            id: "call_k2m9q1ab",
            type: "function",
            function: { name: "get_time", arguments: '{"timezone":"Europe/Paris"}' },
          },
        ],
      },
      finish_reason: "tool_calls",
      logprobs: null,
    });
  });

  it("maps done_reason length and generates ids for calls without one", () => {
    expect(respond("chat-length.json").completion.choices[0]?.finish_reason).toBe("length");
    const answer = {
      model: "llama3.2",
      message: {
        role: "assistant",
        content: "",
        tool_calls: [{ function: { name: "ping", arguments: {} } }],
      },
      done: true,
      done_reason: "stop",
    };
    const { completion, usage } = ollamaAdapter.chat.response(answer, ctx);
    expect(completion.choices[0]?.message.tool_calls).toEqual([
      { id: "call_01TEST_0", type: "function", function: { name: "ping", arguments: "{}" } },
    ]);
    expect(usage).toBeNull();
    expect(completion.usage).toBeUndefined();
  });

  it("trusts no usage without prompt_eval_count (older servers omit it for a cached prompt): the router counts", () => {
    const answer = {
      model: "llama3.2",
      message: { role: "assistant", content: "Hi" },
      done: true,
      done_reason: "stop",
      eval_count: 2,
    };
    expect(ollamaAdapter.chat.response(answer, ctx).usage).toBeNull();
  });
});

describe("ollama failure mapping", () => {
  it("reads Ollama's error string: a missing model is the operator's, not retried there but elsewhere", () => {
    expect(ollamaAdapter.failure(404, fixture("ollama", "error-not-found.json"), new Headers())).toEqual({
      status: 404,
      code: "upstream_error",
      message: 'Ollama: model "llama3.3" not found, try pulling it first',
      retryable: false,
      fallback: true,
      retryAfterMs: null,
    });
  });

  it("retries a server error and passes a bad request back to the caller", () => {
    expect(
      ollamaAdapter.failure(500, '{"error":"llama runner process has terminated"}', new Headers()),
    ).toMatchObject({
      code: "upstream_error",
      retryable: true,
      message: "Ollama failed (500): llama runner process has terminated",
    });
    expect(
      ollamaAdapter.failure(
        400,
        '{"error":"registry.ollama.ai/library/gemma3 does not support tools"}',
        new Headers(),
      ),
    ).toMatchObject({
      code: "invalid_request",
      retryable: false,
    });
    expect(ollamaAdapter.failure(429, "too many", new Headers({ "retry-after": "2" }))).toMatchObject({
      code: "rate_limited",
      retryAfterMs: 2_000,
    });
  });
});

describe("ollama embeddings", () => {
  const embeddings = ollamaAdapter.embeddings;
  if (!embeddings) throw new Error("ollama has embeddings");
  const embedCtx = contextFor("ollama", "http://localhost:11434", "all-minilm");

  it("posts a string or a list to /api/embed with the requested dimensions", () => {
    const one = embeddings.request({ model: "e", input: "hello" }, embedCtx);
    expect(one.url).toBe("http://localhost:11434/api/embed");
    expect(JSON.parse(one.body)).toEqual({ model: "all-minilm", input: "hello" });
    const many = embeddings.request({ model: "e", input: ["a", "b"], dimensions: 256 }, embedCtx);
    expect(JSON.parse(many.body)).toEqual({ model: "all-minilm", input: ["a", "b"], dimensions: 256 });
    expect(thrown(() => embeddings.request({ model: "e", input: [[1, 2]] }, embedCtx)).details).toEqual({
      field: "input",
    });
  });

  it("returns floats or base64 with the count Ollama reports", () => {
    const answer = jsonFixture("ollama", "embed.json");
    const req = { model: "e", input: ["Why is the sky blue?", "Why is the grass green?"] };
    const floats = embeddings.response(answer, embedCtx, req);
    expect(floats.list).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [0.010071029, -0.0017594862, 0.05007221, 0.04692972] },
        { object: "embedding", index: 1, embedding: [-0.0098027075, 0.06042469, 0.025257962, -0.006364387] },
      ],
      model: "all-minilm",
      usage: { prompt_tokens: 8, total_tokens: 8 },
    });
    expect(floats.usage).toEqual({
      input: 8,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 0,
      reasoning: 0,
      estimated: false,
    });
    const base64 = embeddings.response(answer, embedCtx, { ...req, encoding_format: "base64" });
    expect(decodeFloat32(String(base64.list.data[1]?.embedding))).toEqual(
      [-0.0098027075, 0.06042469, 0.025257962, -0.006364387].map(Math.fround),
    );
  });

  it("estimates the input when the server gives no count", () => {
    const { usage } = embeddings.response({ model: "all-minilm", embeddings: [[0.5]] }, embedCtx, {
      model: "e",
      input: "twelve chars",
    });
    expect(usage).toEqual({
      input: 3,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 0,
      reasoning: 0,
      estimated: true,
    });
  });
});
