import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { countTokens, type EmulatorHandle, embedText, startGeminiEmulator } from "../src/emulators/index.ts";
import { list, obj, parseSse, post, readAll } from "./emulators-helpers.ts";

let gemini: EmulatorHandle;
const key = (): Record<string, string> => ({ "x-goog-api-key": gemini.apiKey });
const generate = (body: Record<string, unknown>, path = "gemini-2.5-flash:generateContent", h = key()) =>
  post(`${gemini.url}/v1beta/models/${path}`, body, h);
const stream = (body: Record<string, unknown>) =>
  generate(body, "gemini-2.5-flash:streamGenerateContent?alt=sse");
const hello = [{ role: "user", parts: [{ text: "hello there, world!" }] }];
const tools = [
  {
    functionDeclarations: [
      { name: "get_weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } },
    ],
  },
];
const candidate = (body: unknown) => obj(list(obj(body).candidates)[0]);

beforeAll(async () => {
  gemini = await startGeminiEmulator();
});
afterAll(() => gemini.stop());
beforeEach(() => gemini.reset());

describe("Gemini emulator: generateContent", () => {
  it("answers a GenerateContentResponse with usageMetadata (systemInstruction counted)", async () => {
    const response = await generate({
      contents: hello,
      systemInstruction: { parts: [{ text: "Be brief." }] },
    });
    expect(response.status).toBe(200);
    const prompt = countTokens("Be brief.") + 5;
    expect(await response.json()).toEqual({
      candidates: [
        {
          content: { parts: [{ text: "Echo: hello there, world!" }], role: "model" },
          finishReason: "STOP",
          index: 0,
          safetyRatings: expect.arrayContaining([
            { category: "HARM_CATEGORY_HARASSMENT", probability: "NEGLIGIBLE" },
          ]),
        },
      ],
      usageMetadata: {
        promptTokenCount: prompt,
        candidatesTokenCount: 7,
        totalTokenCount: prompt + 7,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }],
      },
      modelVersion: "gemini-2.5-flash",
      responseId: expect.any(String),
    });
  });

  it("streams SSE frames ending in CRLF CRLF, usage growing, finishReason on the last chunk", async () => {
    const response = await stream({ contents: hello });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const raw = await response.text();
    expect(raw.startsWith("data: {")).toBe(true);
    expect(raw.endsWith("}\r\n\r\n")).toBe(true);
    expect(raw.split("\r\n\r\n").filter(Boolean)).toHaveLength(3);
    const chunks = parseSse(raw).map((event) => obj(JSON.parse(event.data)));
    expect(chunks.map((chunk) => candidate(chunk).content)).toEqual([
      { parts: [{ text: "Echo: hello" }], role: "model" },
      { parts: [{ text: " there, world" }], role: "model" },
      { parts: [{ text: "!" }], role: "model" },
    ]);
    expect(chunks.map((chunk) => candidate(chunk).finishReason)).toEqual([undefined, undefined, "STOP"]);
    expect(chunks.map((chunk) => obj(chunk.usageMetadata).candidatesTokenCount)).toEqual([3, 6, 7]);
    expect(obj(chunks[2]?.usageMetadata).totalTokenCount).toBe(12);
  });

  it("streams a JSON array without alt=sse", async () => {
    const response = await generate({ contents: hello }, "gemini-2.5-flash:streamGenerateContent");
    const array = list(JSON.parse(await response.text()));
    expect(array).toHaveLength(3);
  });

  it("answers functionCall parts, and text after a functionResponse", async () => {
    const call = await (
      await generate({ contents: [{ role: "user", parts: [{ text: "Paris" }] }], tools })
    ).json();
    expect(candidate(call).content).toEqual({
      parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }],
      role: "model",
    });
    expect(candidate(call).finishReason).toBe("STOP");
    const contents = [
      { role: "user", parts: [{ text: "Paris" }] },
      { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
      { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { sky: "sunny" } } }] },
    ];
    const answer = await (await generate({ contents, tools })).json();
    expect(candidate(answer).content).toEqual({ parts: [{ text: 'Echo: {"sky":"sunny"}' }], role: "model" });
    const none = await (
      await generate({ contents: hello, tools, toolConfig: { functionCallingConfig: { mode: "NONE" } } })
    ).json();
    expect(obj(list(obj(candidate(none).content).parts)[0]).text).toBe("Echo: hello there, world!");
  });

  it("honours generationConfig: maxOutputTokens, stopSequences, JSON mime type, candidateCount", async () => {
    const cut = await (await generate({ contents: hello, generationConfig: { maxOutputTokens: 3 } })).json();
    expect(candidate(cut)).toMatchObject({
      content: { parts: [{ text: "Echo: hello" }] },
      finishReason: "MAX_TOKENS",
    });
    const stopped = await (
      await generate({ contents: hello, generationConfig: { stopSequences: [","] } })
    ).json();
    expect(candidate(stopped)).toMatchObject({
      content: { parts: [{ text: "Echo: hello there" }] },
      finishReason: "STOP",
    });
    const json = await (
      await generate({
        contents: hello,
        generationConfig: { responseMimeType: "application/json", candidateCount: 2 },
      })
    ).json();
    expect(list(obj(json).candidates).map((c) => obj(c).index)).toEqual([0, 1]);
    const text = String(obj(list(obj(candidate(json).content).parts)[0]).text);
    expect(JSON.parse(text)).toEqual({ reply: "Echo: hello there, world!" });
  });

  it("reports cached and thoughts tokens", async () => {
    gemini.enqueue({ cachedTokens: 2, reasoningTokens: 5 });
    const body = obj(await (await generate({ contents: hello })).json());
    expect(body.usageMetadata).toEqual({
      promptTokenCount: 5,
      candidatesTokenCount: 7,
      totalTokenCount: 17,
      cachedContentTokenCount: 2,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: 5 }],
      thoughtsTokenCount: 5,
    });
  });
});

describe("Gemini emulator: safety, auth and failures", () => {
  it("blocks the prompt (promptFeedback, no candidates) or the candidate (finishReason SAFETY)", async () => {
    gemini.enqueue({ safetyBlock: "prompt" });
    const prompt = obj(await (await generate({ contents: hello })).json());
    expect(prompt).not.toHaveProperty("candidates");
    expect(obj(prompt.promptFeedback).blockReason).toBe("SAFETY");
    gemini.enqueue({ safetyBlock: "candidate" });
    const chunks = parseSse(await (await stream({ contents: hello })).text());
    expect(chunks).toHaveLength(1);
    const blocked = candidate(JSON.parse(chunks[0]?.data ?? ""));
    expect(blocked).toMatchObject({ finishReason: "SAFETY", index: 0 });
    expect(blocked).not.toHaveProperty("content");
  });

  it("takes the key from x-goog-api-key or ?key=, with Google's errors otherwise", async () => {
    expect(
      (await generate({ contents: hello }, `gemini-2.5-flash:generateContent?key=${gemini.apiKey}`, {}))
        .status,
    ).toBe(200);
    const missing = await generate({ contents: hello }, "gemini-2.5-flash:generateContent", {});
    expect(missing.status).toBe(403);
    expect(obj(obj(await missing.json()).error)).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
    const wrong = await generate({ contents: hello }, "gemini-2.5-flash:generateContent", {
      "x-goog-api-key": "nope",
    });
    expect(obj(obj(await wrong.json()).error)).toMatchObject({
      code: 400,
      message: "API key not valid. Please pass a valid API key.",
      status: "INVALID_ARGUMENT",
    });
    const badRole = await generate({ contents: [{ role: "assistant", parts: [{ text: "x" }] }] });
    expect(await badRole.json()).toEqual({
      error: { code: 400, message: "Please use a valid role: user, model.", status: "INVALID_ARGUMENT" },
    });
  });

  it("injects 429 RESOURCE_EXHAUSTED, mid-stream error frames and disconnects", async () => {
    gemini.enqueue({ status: 429, headers: { "retry-after": "3" } });
    const limited = await generate({ contents: hello });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    expect(obj(obj(await limited.json()).error)).toMatchObject({ code: 429, status: "RESOURCE_EXHAUSTED" });
    gemini.enqueue({ failAfterChunks: 1 });
    const events = parseSse(await (await stream({ contents: hello })).text()).map((event) =>
      obj(JSON.parse(event.data)),
    );
    expect(events).toHaveLength(2);
    expect(obj(events[1]?.error)).toMatchObject({ code: 503, status: "UNAVAILABLE" });
    gemini.enqueue({ failAfterChunks: 2, mode: "disconnect" });
    const cut = await readAll(await stream({ contents: hello }));
    expect(cut.error).toBeInstanceOf(Error);
    expect(parseSse(cut.text)).toHaveLength(2);
    gemini.enqueue({ omitUsage: true });
    expect(obj(await (await generate({ contents: hello })).json())).not.toHaveProperty("usageMetadata");
  });

  it("fails a stream before any content, as SSE and as a JSON array", async () => {
    const error = {
      code: 503,
      message: "The model is overloaded. Please try again later.",
      status: "UNAVAILABLE",
    };
    gemini.enqueue({ failAfterChunks: 0 });
    const sse = await stream({ contents: hello });
    expect(sse.status).toBe(200);
    expect(await sse.text()).toBe(`data: ${JSON.stringify({ error })}\r\n\r\n`);
    gemini.enqueue({ failAfterChunks: 0 });
    const array = await generate({ contents: hello }, "gemini-2.5-flash:streamGenerateContent");
    expect(array.status).toBe(200);
    expect(JSON.parse(await array.text())).toEqual([{ error }]);
  });
});

describe("Gemini emulator: embeddings", () => {
  it("answers embedContent and batchEmbedContents deterministically", async () => {
    const single = await generate(
      { content: { parts: [{ text: "a b" }] }, outputDimensionality: 4 },
      "text-embedding-004:embedContent",
    );
    expect(await single.json()).toEqual({ embedding: { values: embedText("a b", 4) } });
    const requests = ["x", "y"].map((text) => ({
      model: "models/text-embedding-004",
      content: { parts: [{ text }] },
      outputDimensionality: 4,
    }));
    const batch = await generate({ requests }, "text-embedding-004:batchEmbedContents");
    expect(await batch.json()).toEqual({
      embeddings: [{ values: embedText("x", 4) }, { values: embedText("y", 4) }],
    });
  });
});

describe("Gemini emulator: thinking", () => {
  const thought = "Let me think about this request: hello there, world!";
  const config = (thinkingConfig: Record<string, unknown>) => ({
    contents: hello,
    generationConfig: { thinkingConfig },
  });

  it("thinks for a budget: thought parts only with includeThoughts, thoughtsTokenCount either way", async () => {
    const shown = obj(await (await generate(config({ thinkingBudget: 1024, includeThoughts: true }))).json());
    expect(obj(candidate(shown).content).parts).toEqual([
      { text: thought, thought: true },
      { text: "Echo: hello there, world!" },
    ]);
    expect(obj(shown.usageMetadata).thoughtsTokenCount).toBe(countTokens(thought));
    const hidden = obj(await (await generate(config({ thinkingBudget: 1024 }))).json());
    expect(obj(candidate(hidden).content).parts).toEqual([{ text: "Echo: hello there, world!" }]);
    expect(obj(hidden.usageMetadata).thoughtsTokenCount).toBe(countTokens(thought));
    const off = obj(await (await generate(config({ thinkingBudget: 0 }))).json());
    expect(obj(off.usageMetadata).thoughtsTokenCount).toBeUndefined();
  });

  it("streams the thought part in the first chunk", async () => {
    const response = await stream(config({ thinkingBudget: 1024, includeThoughts: true }));
    const chunks = parseSse(await response.text()).map((event) => obj(JSON.parse(event.data)));
    expect(list(obj(candidate(chunks[0]).content).parts)[0]).toEqual({ text: thought, thought: true });
    const later = chunks.slice(1).flatMap((chunk) => list(obj(candidate(chunk).content).parts));
    expect(later.some((part) => obj(part).thought === true)).toBe(false);
  });

  it.each([
    ["gemini-2.5-flash", { thinkingLevel: "high" }, "Thinking level is not supported"],
    ["gemini-3-pro-preview", { thinkingLevel: "high", thinkingBudget: 1024 }, "only one of"],
    ["gemini-2.5-pro", { thinkingBudget: 0 }, "only works in thinking mode"],
    ["gemini-2.5-flash", { thinkingBudget: 30_000 }, "between 0 and 24576"],
  ])("refuses a thinkingConfig %s does not take", async (model, thinkingConfig, message) => {
    const response = await generate(config(thinkingConfig), `${model}:generateContent`);
    expect(response.status).toBe(400);
    const error = obj(obj(await response.json()).error);
    expect(error.status).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain(message);
  });
});
