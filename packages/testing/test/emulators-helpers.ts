/** Helpers for the emulator tests: plain fetch plus SSE / NDJSON parsing. */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** Splits an SSE body into events (LF or CRLF line endings). */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    if (block.trim() === "") continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    events.push({ event, data: data.join("\n") });
  }
  return events;
}

/** The JSON payloads of `data:` events, `[DONE]` kept as the string. */
export function sseJson(body: string): unknown[] {
  return parseSse(body).map((event) => (event.data === "[DONE]" ? "[DONE]" : JSON.parse(event.data)));
}

export function parseNdjson(body: string): unknown[] {
  return body
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });
}

/** Reads a body to its end or its failure, keeping what arrived before a cut. */
export async function readAll(response: Response): Promise<{ text: string; error: unknown }> {
  const reader = response.body?.getReader();
  if (!reader) return { text: "", error: new Error("no body") };
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: undefined };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

/** Narrowing for assertions on parsed JSON. */
export function obj(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
  return value as Record<string, unknown>;
}

export function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error("not an array");
  return value;
}

/** `body.choices[index]` as an object. */
export function choice(body: unknown, index = 0): Record<string, unknown> {
  return obj(list(obj(body).choices)[index]);
}
