// Readable, prefixed output for the processes the start command runs: pino JSON becomes one short line.
const COLORS = [36, 35, 33, 32, 34, 91, 92, 93, 94, 95, 96];
const LEVEL_COLORS: Record<string, number> = {
  error: 31,
  fatal: 31,
  warn: 33,
  info: 32,
  debug: 90,
  trace: 90,
};
const HIDDEN = new Set(["level", "time", "msg", "service", "pid", "hostname"]);

export function prefixer(names: string[]) {
  const width = Math.max(...names.map((n) => n.length));
  return (name: string) => {
    const color = COLORS[names.indexOf(name) % COLORS.length] ?? 37;
    return `\x1b[${color}m${name.padEnd(width)} │\x1b[0m`;
  };
}

export function formatLine(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const level = String(entry.level ?? "info");
    const extras = Object.entries(entry)
      .filter(([key]) => !HIDDEN.has(key))
      .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : String(value)}`)
      .join(" ");
    const time = typeof entry.time === "string" ? entry.time.slice(11, 19) : "";
    return `${time} \x1b[${LEVEL_COLORS[level] ?? 37}m${level.padEnd(5)}\x1b[0m ${String(entry.msg ?? "")} \x1b[90m${extras}\x1b[0m`;
  } catch {
    return line;
  }
}

export async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  write: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let tail = "";
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    tail += decoder.decode(value, { stream: true });
    const lines = tail.split("\n");
    tail = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) write(line);
  }
  if (tail.trim()) write(tail);
}
