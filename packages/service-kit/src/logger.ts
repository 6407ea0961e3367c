import { pino } from "pino";

export type Logger = pino.Logger;

/** Structured JSON logs; secrets that might appear in logged objects are redacted. */
export function createLogger(service: string, level = "info"): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        "password",
        "*.password",
        "authorization",
        "*.authorization",
        "headers.authorization",
        "api_key",
        "*.api_key",
        "secret",
        "*.secret",
      ],
      censor: "[redacted]",
    },
  });
}
