import { newId } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { formatIssuePath, parsePayload, QueuePayloadError } from "../src/index.ts";

/** One usage event; a `usage` job carries a batch of them. */
const usage = {
  event_id: newId("event"),
  request_id: "req_x",
  tenant_id: "tnt_1",
  key_id: "key_1",
  user_id: null,
  model: "gpt-4o-mini",
  provider: "openai",
  deployment: "d1",
  reservation_id: null,
  period: "2026-11",
  tokens: { input: 10, output: 5 },
  cost_micros: 12,
  billed_micros: 15,
  status: "success",
  latency_ms: 42,
  occurred_at: "2026-11-03T10:00:00.000Z",
};

const batch = (...events: unknown[]) => ({ batch_id: newId("job"), events });

describe("formatIssuePath", () => {
  it("joins keys with dots and writes array indexes in brackets", () => {
    expect(formatIssuePath(["spans", 0, "name"])).toBe("spans[0].name");
    expect(formatIssuePath(["tokens", "input"])).toBe("tokens.input");
  });

  it("names the payload itself when the path is empty", () => {
    expect(formatIssuePath([])).toBe("(root)");
  });
});

describe("parsePayload", () => {
  it("applies the schema's defaults to a valid payload", () => {
    const result = parsePayload("usage", batch(usage));
    expect(result.success).toBe(true);
    if (!result.success) return;
    expect(result.data.events[0]?.tokens).toEqual({
      input: 10,
      output: 5,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      reasoning: 0,
    });
    expect(result.data.events[0]?.source).toBe("router");
  });

  it("names every bad field", () => {
    const result = parsePayload(
      "usage",
      batch(usage, { ...usage, tenant_id: "", tokens: { input: "10", output: 5 } }),
    );
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(result.issues.map((issue) => issue.path).sort()).toEqual([
      "events[1].tenant_id",
      "events[1].tokens.input",
    ]);
  });

  it("reports array positions for batch payloads", () => {
    const result = parsePayload("analytics", { kind: "usage", events: [{ ...usage, period: "11-2026" }] });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(result.issues.map((issue) => issue.path)).toEqual(["events[0].period"]);
  });
});

describe("QueuePayloadError", () => {
  it("says which queue and which fields", () => {
    const error = new QueuePayloadError("usage", [
      { path: "events[0].tokens.input", message: "expected number" },
    ]);
    expect(error.message).toBe('invalid payload for queue "usage": events[0].tokens.input: expected number');
    expect(error.name).toBe("QueuePayloadError");
    expect(error.queue).toBe("usage");
  });
});
