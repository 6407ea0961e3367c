import { newId, periodOf } from "@cloudfreedom/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "../../../testing/src/factories.ts";
import { createBatchWriter } from "../../src/batch-writer.ts";
import type { TenantRow } from "../../src/schemas.ts";
import { type DbHarness, startDbHarness } from "./harness.ts";

let harness: DbHarness;
let tenant: TenantRow;
let batchRequests = 0;

beforeAll(async () => {
  harness = await startDbHarness();
  tenant = await createTenant({ db: harness.db });
  harness.client.pb.afterSend = (response, data) => {
    if (new URL(response.url).pathname === "/api/batch") batchRequests += 1;
    return data;
  };
});
afterAll(async () => {
  await harness?.pocketbase.stop();
});

const usageLog = (eventId: string) => ({
  tenant: tenant.id,
  event_id: eventId,
  request_id: `req_${eventId.slice(4)}`,
  source: "router",
  model: "gpt-4o-mini",
  provider: "openai",
  input_tokens: 12,
  output_tokens: 34,
  cost_micros: 27,
  billed_micros: 33,
  latency_ms: 250,
  status: "success",
  period: periodOf(new Date()),
  occurred_at: new Date().toISOString(),
});

const usageWriter = () =>
  createBatchWriter<ReturnType<typeof usageLog>>({
    client: harness.client,
    collection: "usage_logs",
    maxBatch: 500,
    idempotencyKey: ["tenant", "event_id"],
  });

const storedCount = async () =>
  (await harness.db.forTenant(tenant.id).collection("usage_logs").list({ perPage: 1 })).totalItems;

describe("batch writer against PocketBase", () => {
  const eventIds = Array.from({ length: 1_200 }, () => newId("event"));

  it("writes 1,200 usage logs in batches of at most 500", async () => {
    batchRequests = 0;
    const writer = usageWriter();
    const outcomes = eventIds.map((id) => writer.write(usageLog(id)));
    await writer.close();
    const settled = await Promise.all(outcomes);
    expect(settled.every((o) => o.status === "created")).toBe(true);
    // 500 + 500 (sent as the queue fills) + 200 (on close).
    expect(batchRequests).toBe(3);
    expect(await storedCount()).toBe(1_200);
    const stored = await harness.db
      .forTenant(tenant.id)
      .collection("usage_logs")
      .getFirst({ filter: "event_id = {:id}", params: { id: eventIds[0] } });
    expect(stored).toMatchObject({
      event_id: eventIds[0],
      input_tokens: 12,
      billed_micros: 33,
      status: "success",
    });
  });

  it("writes none of the same event ids twice when they are flushed again", async () => {
    const existing = new Map(
      (await harness.db.forTenant(tenant.id).collection("usage_logs").listAll()).map((row) => [
        row.event_id,
        row.id,
      ]),
    );
    const writer = usageWriter();
    const outcomes = eventIds.map((id) => writer.write(usageLog(id)));
    await writer.close();
    const settled = await Promise.all(outcomes);
    settled.forEach((outcome, i) => {
      expect(outcome).toEqual({ status: "duplicate", id: existing.get(eventIds[i] ?? "") });
    });
    expect(await storedCount()).toBe(1_200);
  });

  it("writes only the new events of a batch that mixes new and already-written ones", async () => {
    const fresh = Array.from({ length: 100 }, () => newId("event"));
    const mixed = [...eventIds.slice(0, 300), ...fresh, ...eventIds.slice(300, 600)];
    const writer = usageWriter();
    for (const id of mixed) void writer.write(usageLog(id));
    const results = await writer.close();
    const created = results.filter((r) => r.status === "created").map((r) => r.record.event_id);
    expect(created.sort()).toEqual([...fresh].sort());
    expect(results.filter((r) => r.status === "duplicate")).toHaveLength(600);
    expect(await storedCount()).toBe(1_300);
  });

  it("fails only an invalid record and writes the rest of its batch", async () => {
    const writer = usageWriter();
    const good = newId("event");
    void writer.write(usageLog(good));
    void writer.write({ ...usageLog(newId("event")), status: "exploded" });
    const results = await writer.close();
    expect(results.map((r) => r.status)).toEqual(["created", "failed"]);
    expect(results[1]?.status === "failed" && results[1].error.details).toMatchObject({ field: "status" });
    expect(await storedCount()).toBe(1_301);
  });
});
