/** One server-sent event. `event` is "message" when the stream names none. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Incremental SSE parser: feed text in any split, get complete events. Keeps only the unfinished tail.
 * Handles `\n`, `\r\n` and `\r` line ends, multi-line `data:`, comments and the optional space after `:`.
 */
export class SseParser {
  private tail = "";
  private event = "";
  private data: string[] = [];

  push(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    const buffer = this.tail + text;
    let start = 0;
    for (;;) {
      const newline = nextLineEnd(buffer, start);
      if (newline === -1) break;
      // A "\r" at the very end may be the first half of "\r\n": keep the whole line for the next push.
      if (buffer.charCodeAt(newline) === 13 && newline === buffer.length - 1) break;
      const line = buffer.slice(start, newline);
      start = newline + (buffer.charCodeAt(newline) === 13 && buffer.charCodeAt(newline + 1) === 10 ? 2 : 1);
      this.line(line, events);
    }
    this.tail = buffer.slice(start);
    return events;
  }

  /** End of stream: an event without its terminating blank line still counts. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.tail) this.line(this.tail.replace(/\r$/, ""), events);
    this.tail = "";
    this.line("", events);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) events.push({ event: this.event || "message", data: this.data.join("\n") });
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
  }
}

function nextLineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}

/** Incremental newline-delimited JSON splitter (Ollama streams): complete lines only. */
export class NdjsonParser {
  private tail = "";

  push(text: string): string[] {
    const buffer = this.tail + text;
    const lines = buffer.split("\n");
    this.tail = lines.pop() ?? "";
    return lines.filter((line) => line.trim() !== "");
  }

  end(): string[] {
    const rest = this.tail.trim();
    this.tail = "";
    return rest ? [rest] : [];
  }
}
