import { z } from "zod";

const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
const Url = (example: string) => z.url({ message: `must be a URL like ${example}` });
const Flag = z.enum(["true", "false"]).transform((value) => value === "true");

/** Variables every service reads. An app extends this with its own (`BaseEnv.extend({...})`). */
export const BaseEnv = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  LOG_LEVEL: LogLevel.default("info"),
  REDIS_URL: Url("redis://127.0.0.1:6379").default("redis://127.0.0.1:6379"),
  POCKETBASE_URL: Url("http://127.0.0.1:8090").default("http://127.0.0.1:8090"),
  POCKETBASE_ADMIN_EMAIL: z.email({ message: "must be the operator superuser's email" }),
  POCKETBASE_ADMIN_PASSWORD: z.string().min(10, { message: "must be at least 10 characters" }),
  PLATFORM_DOMAIN: z.string().min(1).default("localhost"),
  OTEL_EXPORTER_OTLP_ENDPOINT: Url("http://127.0.0.1:4318").optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  LOG_REQUESTS: Flag.default(true),
});
export type BaseEnv = z.infer<typeof BaseEnv>;

/** Adds PORT with the service's own default. */
export function serviceEnv<Shape extends z.ZodRawShape>(defaultPort: number, shape: Shape) {
  return BaseEnv.extend({
    PORT: z.coerce.number().int().min(1).max(65_535).default(defaultPort),
    HOST: z.string().min(1).default("0.0.0.0"),
  }).extend(shape);
}

export class EnvError extends Error {
  readonly problems: string[];
  constructor(service: string, problems: string[]) {
    super(
      `${service}: invalid environment\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        "Set these variables (see README → Configuration) and start again.",
    );
    this.name = "EnvError";
    this.problems = problems;
  }
}

/** Parse the environment once at boot; every problem is named by its variable. */
export function parseEnv<Schema extends z.ZodType>(
  service: string,
  schema: Schema,
  source: Record<string, string | undefined> = process.env,
): z.infer<Schema> {
  // Empty strings count as unset, so `FOO=` in a .env file falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(root)";
    const got = cleaned[name] === undefined ? "is not set" : "is invalid";
    return `${name} ${got}: ${issue.message}`;
  });
  throw new EnvError(service, problems);
}

/** For entry files: parse or print the problems and exit 1. */
export function loadEnv<Schema extends z.ZodType>(service: string, schema: Schema): z.infer<Schema> {
  try {
    return parseEnv(service, schema);
  } catch (error) {
    if (error instanceof EnvError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
