import { ClientResponseError } from "pocketbase";
import { describe, expect, it, vi } from "vitest";
import { createBatchWriter } from "../src/batch-writer.ts";
import { batchError, fakeClient, type Row, uniqueTable } from "./fake-client.ts";

const event = (n: number, tenant = "tnt_a") => ({ tenant, event_id: `evt_${n}`, model: "m" });
const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe("batch writer", () => {
  it("sends a batch whenever maxBatch records are queued and the rest on flush", async () => {
    const rows: Row[] = [];
    const { client, sends } = fakeClient(uniqueTable(rows), rows);
    const writer = createBatchWriter({ client, collection: "usage_logs", maxBatch: 3 });
    const outcomes = Array.from({ length: 7 }, (_, n) => writer.write(event(n)));
    const results = await writer.flush();
    expect(sends.map((batch) => batch.length)).toEqual([3, 3, 1]);
    expect(results.map((r) => r.status)).toEqual(Array(7).fill("created"));
    expect((await Promise.all(outcomes)).every((o) => o.status === "created")).toBe(true);
    expect(rows).toHaveLength(7);
  });

  it("fails only the record PocketBase rejected and writes the others", async () => {
    let first = true;
    const { client } = fakeClient(async (records) => {
      if (first) {
        first = false;
        throw batchError(1, 400, { model: { code: "validation_required", message: "Cannot be blank." } });
      }
      return records.map((r, i) => ({ ...r, id: `use_${i}` }));
    });
    const writer = createBatchWriter({ client, collection: "usage_logs" });
    for (let n = 0; n < 3; n++) void writer.write(event(n));
    const results = await writer.flush();
    expect(results.map((r) => r.status)).toEqual(["created", "failed", "created"]);
    const rejected = results[1];
    expect(rejected?.status === "failed" && rejected.error.code).toBe("validation_failed");
    expect(rejected?.status === "failed" && rejected.error.details.field).toBe("model");
  });

  it("settles already-written keys as duplicates and writes only the new ones", async () => {
    const rows: Row[] = [
      { ...event(1), id: "use_old1" },
      { ...event(3), id: "use_old3" },
    ];
    const { client, sends } = fakeClient(uniqueTable(rows), rows);
    const writer = createBatchWriter({
      client,
      collection: "usage_logs",
      idempotencyKey: ["tenant", "event_id"],
    });
    for (let n = 0; n < 5; n++) void writer.write(event(n));
    const results = await writer.flush();
    expect(results.map((r) => r.status)).toEqual(["created", "duplicate", "created", "duplicate", "created"]);
    expect(results[1]).toMatchObject({ status: "duplicate", id: "use_old1" });
    expect(sends.map((batch) => batch.length)).toEqual([5, 3]);
    expect(rows).toHaveLength(5);
  });

  it("without an idempotency key a unique violation is a failure, not a duplicate", async () => {
    const rows: Row[] = [{ ...event(1), id: "use_old1" }];
    const { client } = fakeClient(uniqueTable(rows), rows);
    const writer = createBatchWriter({ client, collection: "usage_logs" });
    void writer.write(event(0));
    void writer.write(event(1));
    const results = await writer.flush();
    expect(results.map((r) => r.status)).toEqual(["created", "failed"]);
    expect(results[1]?.status === "failed" && results[1].error.code).toBe("conflict");
  });

  it("queues a repeated key once and resolves the repeat as a duplicate of the first", async () => {
    const rows: Row[] = [];
    const { client } = fakeClient(uniqueTable(rows), rows);
    const writer = createBatchWriter({ client, collection: "usage_logs", idempotencyKey: "event_id" });
    const first = writer.write(event(1));
    const again = writer.write(event(1));
    await writer.flush();
    expect(await first).toMatchObject({ status: "created" });
    expect(await again).toEqual({ status: "duplicate", id: rows[0]?.id });
    expect(rows).toHaveLength(1);
  });

  it("retries a batch that failed as a whole and succeeds when the server recovers", async () => {
    let calls = 0;
    const { client } = fakeClient(async (records) => {
      calls += 1;
      if (calls < 3) throw new ClientResponseError(new TypeError("fetch failed"));
      return records.map((r) => ({ ...r, id: "use_x" }));
    });
    const writer = createBatchWriter({ client, collection: "usage_logs", retry: { ...fast, attempts: 4 } });
    void writer.write(event(0));
    const results = await writer.flush();
    expect(calls).toBe(3);
    expect(results.map((r) => r.status)).toEqual(["created"]);
  });

  it("reports every record as failed once retries are spent, and tells onFailure", async () => {
    const onFailure = vi.fn();
    const { client, sends } = fakeClient(async () => {
      throw new ClientResponseError({ status: 503, response: { status: 503, message: "down" } });
    });
    const writer = createBatchWriter({ client, collection: "usage_logs", retry: fast, onFailure });
    const outcome = writer.write(event(0));
    void writer.write(event(1));
    const results = await writer.flush();
    expect(sends).toHaveLength(3);
    expect(results.map((r) => r.status)).toEqual(["failed", "failed"]);
    expect(await outcome).toMatchObject({ status: "failed", error: { code: "service_unavailable" } });
    expect(onFailure).toHaveBeenCalledWith(results);
  });

  it("re-authenticates and retries when requests inside the batch are refused", async () => {
    let refused = true;
    const fake = fakeClient(async (records) => {
      if (refused) {
        refused = false;
        throw batchError(0, 403, {});
      }
      return records.map((r) => ({ ...r, id: "use_x" }));
    });
    const writer = createBatchWriter({ client: fake.client, collection: "usage_logs", retry: fast });
    void writer.write(event(0));
    expect((await writer.flush()).map((r) => r.status)).toEqual(["created"]);
    expect(fake.logins()).toBe(1);
  });

  it("halves a batch the server rejects without naming a record (over its max requests)", async () => {
    const { client, sends } = fakeClient(async (records) => {
      if (records.length > 2) {
        throw new ClientResponseError({
          status: 400,
          response: {
            status: 400,
            message: "Invalid batch request data.",
            data: { requests: { code: "validation_length_too_long" } },
          },
        });
      }
      return records.map((r) => ({ ...r, id: "use_x" }));
    });
    const writer = createBatchWriter({ client, collection: "usage_logs" });
    for (let n = 0; n < 5; n++) void writer.write(event(n));
    const results = await writer.flush();
    expect(results.every((r) => r.status === "created")).toBe(true);
    expect(sends.filter((batch) => batch.length <= 2).flat()).toHaveLength(5);
  });

  it("flushes on its interval without an explicit flush", async () => {
    const rows: Row[] = [];
    const { client } = fakeClient(uniqueTable(rows), rows);
    const writer = createBatchWriter({ client, collection: "usage_logs", flushIntervalMs: 5 });
    expect(await writer.write(event(0))).toMatchObject({ status: "created" });
    await writer.close();
  });

  it("refuses writes after close", async () => {
    const { client } = fakeClient(async (records) => records);
    const writer = createBatchWriter({ client, collection: "usage_logs" });
    await writer.close();
    expect(await writer.write(event(0))).toMatchObject({
      status: "failed",
      error: { code: "internal_error" },
    });
  });
});
