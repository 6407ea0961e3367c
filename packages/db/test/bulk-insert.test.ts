import type PocketBase from "pocketbase";
import { ClientResponseError } from "pocketbase";
import { describe, expect, it } from "vitest";
import { bulkInsert } from "../src/bulk-insert.ts";
import type { PocketBaseClient } from "../src/client.ts";

type Body = { unique_by?: string[]; records: Array<Record<string, unknown>> };

/** A client whose `pb.send` is `answer`, recording every request body. */
function fakeBulkClient(answer: (body: Body, call: number) => Promise<unknown>) {
  const requests: Array<{ path: string; body: Body }> = [];
  const pb = {
    send: async (path: string, options: { body: Body }) => {
      requests.push({ path, body: options.body });
      return answer(options.body, requests.length);
    },
  } as unknown as PocketBase;
  const client: PocketBaseClient = {
    url: "http://fake",
    pb,
    call: (fn) => fn(pb),
    callRaw: (fn) => fn(pb),
    filter: (raw) => raw,
    authenticate: async () => undefined,
    ping: async () => true,
  };
  return { client, requests };
}

const allCreated = async (body: Body) => ({
  results: body.records.map((record) => ({ status: "created", id: `use_${String(record.n)}` })),
});
const httpError = (status: number, response: Record<string, unknown> = {}) =>
  new ClientResponseError({ status, response: { status, message: "x", data: {}, ...response } });
const records = (count: number) => Array.from({ length: count }, (_, n) => ({ tenant: "tnt_a", n }));
const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe("bulkInsert", () => {
  it("sends chunks of chunkSize in order with unique_by and returns outcomes in input order", async () => {
    const { client, requests } = fakeBulkClient(allCreated);
    const outcomes = await bulkInsert(client, "usage_logs", records(5), {
      uniqueBy: ["tenant", "n"],
      chunkSize: 2,
    });
    expect(requests.map((r) => r.path)).toEqual(Array(3).fill("/api/cloudfreedom/bulk/usage_logs"));
    expect(requests.map((r) => r.body.records.map((record) => record.n))).toEqual([[0, 1], [2, 3], [4]]);
    expect(requests[0]?.body.unique_by).toEqual(["tenant", "n"]);
    expect(outcomes).toEqual([0, 1, 2, 3, 4].map((n) => ({ status: "created", id: `use_${n}` })));
  });

  it("maps a failed record to validation_failed naming its field", async () => {
    const { client } = fakeBulkClient(async () => ({
      results: [
        { status: "duplicate", id: "use_old" },
        {
          status: "failed",
          code: "validation_failed",
          message: "model: Cannot be blank.",
          data: { model: { code: "validation_required", message: "Cannot be blank." } },
        },
      ],
    }));
    const [duplicate, rejected] = await bulkInsert(client, "usage_logs", records(2));
    expect(duplicate).toEqual({ status: "duplicate", id: "use_old" });
    expect(rejected?.status === "failed" && rejected.error.code).toBe("validation_failed");
    expect(rejected?.status === "failed" && rejected.error.details).toMatchObject({ field: "model" });
  });

  it("retries a request that failed as a whole and resolves with the answer of the retry", async () => {
    const { client, requests } = fakeBulkClient(async (body, call) => {
      if (call === 1) throw httpError(503);
      if (call === 2) throw httpError(0);
      return allCreated(body);
    });
    const outcomes = await bulkInsert(client, "usage_logs", records(2), { retry: fast });
    expect(requests).toHaveLength(3);
    expect(outcomes.map((o) => o.status)).toEqual(["created", "created"]);
  });

  it("fails every record of a chunk that still fails after the attempts, and writes the other chunks", async () => {
    const { client, requests } = fakeBulkClient(async (body, call) => {
      if (call <= 3) throw httpError(500);
      return allCreated(body);
    });
    const outcomes = await bulkInsert(client, "usage_logs", records(3), { chunkSize: 2, retry: fast });
    expect(requests).toHaveLength(4);
    expect(outcomes.map((o) => (o.status === "failed" ? o.error.code : o.status))).toEqual([
      "service_unavailable",
      "service_unavailable",
      "created",
    ]);
  });

  it("does not retry a request PocketBase refused as invalid", async () => {
    const { client, requests } = fakeBulkClient(async () => {
      throw httpError(400, {
        message: "Records holds 0 records.",
        data: { records: { code: "validation_length_out_of_range", message: "Records holds 0 records." } },
      });
    });
    const outcomes = await bulkInsert(client, "usage_logs", records(1), { retry: fast });
    expect(requests).toHaveLength(1);
    expect(outcomes[0]?.status === "failed" && outcomes[0].error.details).toMatchObject({ field: "records" });
  });

  it("fails every record when the answer does not hold one result per record", async () => {
    const { client } = fakeBulkClient(async () => ({ results: [{ status: "created", id: "use_1" }] }));
    const outcomes = await bulkInsert(client, "usage_logs", records(2));
    expect(outcomes.map((o) => (o.status === "failed" ? o.error.code : o.status))).toEqual([
      "internal_error",
      "internal_error",
    ]);
  });

  it("sends nothing for no records", async () => {
    const { client, requests } = fakeBulkClient(allCreated);
    expect(await bulkInsert(client, "usage_logs", [])).toEqual([]);
    expect(requests).toHaveLength(0);
  });
});
