import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseWith } from "../src/validation.ts";

const Query = z.object({
  input_tokens: z.coerce.number().int(),
  page: z.coerce.number().int().optional(),
  from: z.iso.datetime().optional(),
  name: z.string().min(2).optional(),
});

const refusal = (value: unknown) => {
  try {
    parseWith(Query, value, "query");
  } catch (error) {
    return error as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error("parsed");
};

describe("validation messages", () => {
  it("says a missing field is required, not that it received NaN", () => {
    expect(refusal({})).toMatchObject({
      code: "validation_failed",
      message: "Invalid query: input_tokens: required",
      details: { field: "input_tokens" },
    });
  });

  it("quotes what came where a number was expected", () => {
    expect(refusal({ input_tokens: "1", page: "abc" }).message).toBe(
      'Invalid query: page: expected a number, got "abc"',
    );
  });

  it("gives an example of the date-time it expects", () => {
    expect(refusal({ input_tokens: "1", from: "2026-12-01" }).message).toBe(
      'Invalid query: from: expected an ISO 8601 date-time such as 2026-12-01T00:00:00Z, got "2026-12-01"',
    );
  });

  it("says a missing choice of a union is required, and cuts a long echoed value", () => {
    const Body = z.object({
      scope: z.discriminatedUnion("type", [
        z.object({ type: z.literal("tenant") }),
        z.object({ type: z.literal("key") }),
      ]),
    });
    try {
      parseWith(Body, { scope: {} }, "body");
      throw new Error("parsed");
    } catch (error) {
      expect((error as Error).message).toBe("Invalid body: scope.type: required");
    }
    expect(refusal({ input_tokens: "1", from: "x".repeat(100) }).message).toBe(
      `Invalid query: from: expected an ISO 8601 date-time such as 2026-12-01T00:00:00Z, got "${"x".repeat(40)}…"`,
    );
  });

  it("keeps zod's own message where it is plain", () => {
    expect(refusal({ input_tokens: "1", name: "x" }).message).toContain("name: Too small");
  });
});
