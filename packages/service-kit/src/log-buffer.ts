import { writeSync } from "node:fs";

/** Log lines are written at least this often (and whenever LOG_FLUSH_BYTES are pending). */
export const LOG_FLUSH_MS = 100;
const LOG_FLUSH_BYTES = 64 * 1024;
/** Should the reader of stdout stall, lines beyond this are dropped rather than held in memory. */
const LOG_MAX_PENDING_BYTES = 16 * 1024 * 1024;

/**
 * Log lines, joined and written with one `writeSync` per LOG_FLUSH_BYTES or LOG_FLUSH_MS,
 * and on exit. A line costs an array push; the write is one syscall for hundreds of lines. (Pino's async
 * sonic-boom destination re-measured its whole pending buffer on every line and paid a thread-pool callback
 * per write: over a fifth of the router's main thread at full load.) A reader that is not keeping up
 * (`EAGAIN` on a non-blocking pipe) keeps the rest pending for the next flush; a SIGKILL loses at most the
 * last LOG_FLUSH_MS of lines.
 */
export class LogBuffer {
  private lines: string[] = [];
  private pendingBytes = 0;
  /** Bytes of an earlier flush that the descriptor did not take yet. */
  private unwritten: Buffer | null = null;
  private dropped = 0;

  /** `writeTo` writes what it can and returns the byte count, like `writeSync` (which may throw `EAGAIN`). */
  constructor(private readonly writeTo: (bytes: Buffer) => number) {}

  write(line: string): void {
    if (this.pendingBytes >= LOG_MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.lines.push(line);
    this.pendingBytes += line.length;
    // While the reader lags (an unwritten backlog), only the timer retries: not one syscall per line.
    if (this.pendingBytes >= LOG_FLUSH_BYTES && !this.unwritten) this.flush();
  }

  /** Writes what is pending; true when nothing is left. */
  flush(): boolean {
    if (this.dropped > 0) {
      this.lines.push(
        `${JSON.stringify({ level: "warn", time: new Date().toISOString(), msg: "log lines dropped: stdout is not being read", dropped: this.dropped })}\n`,
      );
      this.dropped = 0;
    }
    if (this.lines.length > 0) {
      const text = Buffer.from(this.lines.join(""));
      this.unwritten = this.unwritten ? Buffer.concat([this.unwritten, text]) : text;
      this.lines = [];
    }
    let rest = this.unwritten;
    try {
      while (rest && rest.length > 0) rest = rest.subarray(this.writeTo(rest));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") rest = null;
    }
    this.unwritten = rest && rest.length > 0 ? rest : null;
    this.pendingBytes = this.unwritten?.length ?? 0;
    return this.unwritten === null;
  }

  /** At exit: keep trying a lagging reader for up to a second rather than drop the last lines. */
  flushAtExit(): void {
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (let waited = 0; !this.flush() && waited < 1_000; waited += 10) Atomics.wait(sleeper, 0, 0, 10);
  }
}

let stdout: LogBuffer | undefined;

/** The process's stdout for logs, shared by every logger of the process and flushed on a timer and at exit. */
export function bufferedStdout(): LogBuffer {
  if (!stdout) {
    const buffer = new LogBuffer((bytes) => writeSync(1, bytes));
    setInterval(() => buffer.flush(), LOG_FLUSH_MS).unref();
    process.on("exit", () => buffer.flushAtExit());
    stdout = buffer;
  }
  return stdout;
}
