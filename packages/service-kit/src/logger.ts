import { pino } from "pino";
import { bufferedStdout } from "./log-buffer.ts";

export { LOG_FLUSH_MS } from "./log-buffer.ts";

export type Logger = pino.Logger;

/** Structured JSON logs; secrets that might appear in logged objects are redacted. */
export function createLogger(service: string, level = "info"): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Exact paths only: wildcard paths are re-evaluated on every log call (measurable on the router's hot
      // path). Services log ids, never request bodies or headers.
      redact: {
        paths: [
          "password",
          "authorization",
          "api_key",
          "secret",
          "headers.authorization",
          "err.config.headers",
        ],
        censor: "[redacted]",
      },
    },
    level === "silent" ? pino.destination({ dest: 1, sync: true }) : bufferedStdout(),
  );
}
