import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EnvError, parseEnv, serviceEnv } from "../src/env.ts";

const Schema = serviceEnv(4200, { STRIPE_SECRET_KEY: z.string().startsWith("sk_").optional() });
const valid = {
  POCKETBASE_ADMIN_EMAIL: "ops@example.com",
  POCKETBASE_ADMIN_PASSWORD: "correct-horse-battery",
};

describe("parseEnv", () => {
  it("applies defaults", () => {
    const env = parseEnv("billing", Schema, valid);
    expect(env).toMatchObject({
      PORT: 4200,
      REDIS_URL: "redis://127.0.0.1:6379",
      LOG_LEVEL: "info",
      LOG_REQUESTS: true,
    });
  });

  it("treats empty strings as unset", () => {
    expect(parseEnv("billing", Schema, { ...valid, PORT: "", OTEL_EXPORTER_OTLP_ENDPOINT: "" }).PORT).toBe(
      4200,
    );
  });

  it("fails with a message naming every bad variable and what to do", () => {
    const attempt = () =>
      parseEnv("billing", Schema, { PORT: "eighty", REDIS_URL: "not a url", STRIPE_SECRET_KEY: "pk_x" });
    expect(attempt).toThrow(EnvError);
    try {
      attempt();
    } catch (error) {
      const message = (error as EnvError).message;
      expect(message).toMatch(/^billing: invalid environment/);
      expect(message).toMatch(/POCKETBASE_ADMIN_EMAIL is not set/);
      expect(message).toMatch(/POCKETBASE_ADMIN_PASSWORD is not set/);
      expect(message).toMatch(/PORT is invalid/);
      expect(message).toMatch(/REDIS_URL is invalid: must be a URL like redis:\/\/127\.0\.0\.1:6379/);
      expect(message).toMatch(/STRIPE_SECRET_KEY is invalid/);
      expect(message).toMatch(/README → Configuration/);
    }
  });
});
