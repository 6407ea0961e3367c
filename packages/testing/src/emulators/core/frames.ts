/** Wire framing for streamed replies. */

/** `data: <json>\n\n`: OpenAI's SSE frame. */
export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** `data: <json>\r\n\r\n`: Gemini's SSE frame (Google's servers end lines with CRLF). */
export function sseDataCrlf(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\r\n\r\n`;
}

/** `event: <type>\ndata: <json>\n\n`: Anthropic's SSE frame. */
export function sseEvent(type: string, payload: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** One NDJSON line: Ollama's stream frame. */
export function ndjsonLine(payload: unknown): string {
  return `${JSON.stringify(payload)}\n`;
}
