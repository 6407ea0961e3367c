import { newId, periodOf } from "@cloudfreedom/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, createUser } from "../../../testing/src/factories.ts";
import { bulkInsert } from "../../src/bulk-insert.ts";
import type { TenantRow } from "../../src/schemas.ts";
import { type DbHarness, startDbHarness } from "./harness.ts";

let harness: DbHarness;
let tenant: TenantRow;
let bulkRequests = 0;

beforeAll(async () => {
  harness = await startDbHarness();
  tenant = await createTenant({ db: harness.db });
  harness.client.pb.afterSend = (response, data) => {
    if (new URL(response.url).pathname.startsWith("/api/cloudfreedom/bulk/")) bulkRequests += 1;
    return data;
  };
});
afterAll(async () => {
  await harness?.pocketbase.stop();
});

// A row as apps/billing's usageLogRow writes it.
const usageLog = (eventId: string, overrides: Record<string, unknown> = {}) => ({
  tenant: tenant.id,
  event_id: eventId,
  request_id: `req_${eventId.slice(4)}`,
  reservation_id: "",
  source: "router",
  api_key: "",
  user: "",
  model: "gpt-4o-mini",
  provider: "openai",
  deployment: "",
  input_tokens: 12,
  cached_input_tokens: 0,
  output_tokens: 34,
  reasoning_tokens: 0,
  cost_micros: 27,
  billed_micros: 33,
  latency_ms: 250,
  status: "success",
  error_code: "",
  estimated: false,
  stream: false,
  period: periodOf(new Date()),
  occurred_at: new Date().toISOString(),
  metadata: null,
  ...overrides,
});

const usageLogs = () => harness.db.forTenant(tenant.id).collection("usage_logs");
const storedCount = async () => (await usageLogs().list({ perPage: 1 })).totalItems;
/** The tenant's usage_period_totals (sums kept in the bulk route's transaction) as [billed, requests]. */
const periodTotals = async () =>
  (
    await harness.db
      .forTenant(tenant.id)
      .collection("usage_period_totals")
      .listAll({ filter: "period = {:p}", params: { p: periodOf(new Date()) } })
  ).map((row) => [row.billed_micros, row.requests]);
const insert = (records: Array<ReturnType<typeof usageLog>>, chunkSize?: number) =>
  bulkInsert(harness.client, "usage_logs", records, { uniqueBy: ["tenant", "event_id"], chunkSize });

async function post(path: string, body: unknown, token?: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${harness.pocketbase.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: token } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function superuserToken(): Promise<string> {
  await harness.client.authenticate();
  return harness.client.pb.authStore.token;
}

describe("bulkInsert against PocketBase", () => {
  const eventIds = Array.from({ length: 2_500 }, () => newId("event"));
  const created = new Map<string, string>();

  it("creates 2,500 usage logs in chunks of 1,000 and they are readable", async () => {
    bulkRequests = 0;
    const outcomes = await insert(eventIds.map((id) => usageLog(id)));
    expect(bulkRequests).toBe(3);
    expect(outcomes.map((o) => o.status)).toEqual(Array(2_500).fill("created"));
    outcomes.forEach((outcome, i) => {
      if (outcome.status === "created") created.set(eventIds[i] ?? "", outcome.id);
    });
    expect(new Set(created.values()).size).toBe(2_500);
    expect(await storedCount()).toBe(2_500);
    expect(await periodTotals()).toEqual([[2_500 * 33, 2_500]]);

    // Generated ids follow the pattern and start with their creation time: later chunks sort after earlier ones.
    const ids = [...created.values()];
    for (const id of ids) expect(id).toMatch(/^use_[a-z0-9]{15}$/);
    const stamp = (id: string) => Number.parseInt(id.slice(4, 13), 36);
    expect(Math.abs(stamp(ids[0] ?? "") - Date.now())).toBeLessThan(60_000);
    expect(stamp(ids[2_499] ?? "")).toBeGreaterThanOrEqual(stamp(ids[0] ?? ""));

    const stored = await usageLogs().getFirst({
      filter: "event_id = {:id}",
      params: { id: eventIds[1_234] },
    });
    expect(stored).toMatchObject({
      id: created.get(eventIds[1_234] ?? ""),
      tenant: tenant.id,
      event_id: eventIds[1_234],
      source: "router",
      input_tokens: 12,
      billed_micros: 33,
      status: "success",
    });
  });

  it("answers a re-send with duplicates carrying the original ids and writes nothing", async () => {
    const outcomes = await insert(eventIds.map((id) => usageLog(id)));
    outcomes.forEach((outcome, i) => {
      expect(outcome).toEqual({ status: "duplicate", id: created.get(eventIds[i] ?? "") });
    });
    expect(await storedCount()).toBe(2_500);
    expect(await periodTotals()).toEqual([[2_500 * 33, 2_500]]);
  });

  it("writes a key repeated within one request once and reports the repeat as its duplicate", async () => {
    const [first, second] = [newId("event"), newId("event")];
    const outcomes = await insert([
      usageLog(first, { input_tokens: 1 }),
      usageLog(first, { input_tokens: 2 }),
      usageLog(second),
      usageLog(eventIds[0] ?? ""),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["created", "duplicate", "created", "duplicate"]);
    const firstId = outcomes[0]?.status === "created" ? outcomes[0].id : "";
    expect(outcomes[1]).toEqual({ status: "duplicate", id: firstId });
    expect(outcomes[3]).toEqual({ status: "duplicate", id: created.get(eventIds[0] ?? "") });
    const stored = await usageLogs().getFirst({ filter: "event_id = {:id}", params: { id: first } });
    expect(stored).toMatchObject({ id: firstId, input_tokens: 1 });
    expect(await storedCount()).toBe(2_502);
    expect(await periodTotals()).toEqual([[2_502 * 33, 2_502]]);
  });

  it("fails only the records that fail validation and creates the others", async () => {
    const { model: _model, ...withoutModel } = usageLog(newId("event"));
    const outcomes = await bulkInsert(
      harness.client,
      "usage_logs",
      [
        usageLog(newId("event")),
        withoutModel,
        usageLog(newId("event"), { tenant: "tnt_doesnotexist1" }),
        usageLog(newId("event"), { status: "exploded" }),
        usageLog(newId("event")),
      ],
      { uniqueBy: ["tenant", "event_id"] },
    );
    expect(outcomes.map((o) => o.status)).toEqual(["created", "failed", "failed", "failed", "created"]);
    const reasons = outcomes.map((o) =>
      o.status === "failed" ? [o.error.code, o.error.details.field] : null,
    );
    expect(reasons).toEqual([
      null,
      ["validation_failed", "model"],
      ["validation_failed", "tenant"],
      ["validation_failed", "status"],
      null,
    ]);
    const missingModel = outcomes[1];
    expect(missingModel?.status === "failed" && missingModel.error.details).toMatchObject({
      fields: [{ field: "model", reason: "validation_required" }],
    });
    expect(await storedCount()).toBe(2_504);
  });

  it("reports every record as not_found for an unknown collection, without throwing", async () => {
    const outcomes = await bulkInsert(harness.client, "no_such_collection", [{ a: 1 }, { a: 2 }]);
    expect(outcomes.map((o) => (o.status === "failed" ? o.error.code : o.status))).toEqual([
      "not_found",
      "not_found",
    ]);
  });

  it("rejects a chunk size the route would refuse", async () => {
    await expect(insert([usageLog(newId("event"))], 5_001)).rejects.toThrow(RangeError);
  });

  it("stores a record as the records API does: the SDK reads both back alike", async () => {
    const { user } = await createUser({ db: harness.db });
    const fields = {
      tenant: tenant.id,
      request_id: "req_stored_alike",
      reservation_id: "rsv_1",
      source: "api",
      api_key: "",
      user: user.id,
      model: "gpt-4o",
      provider: "openai",
      deployment: "eu-1",
      upstream_model: "gpt-4o-2024-08-06",
      input_tokens: 1_200,
      cached_input_tokens: 100,
      output_tokens: 3_400,
      reasoning_tokens: 50,
      cost_micros: 123_456,
      billed_micros: 150_000,
      latency_ms: 987,
      attempts: 2,
      status: "error",
      http_status: 502,
      error_code: "upstream_error",
      estimated: true,
      stream: true,
      period: periodOf(new Date()),
      occurred_at: "2026-11-05T10:20:30.123Z",
      metadata: { nested: { list: [1, "two", null, true] }, ratio: 1.5, text: "é" },
    };
    const viaApi = await harness.client.callRaw((pb) =>
      pb.collection("usage_logs").create({ ...fields, event_id: newId("event") }),
    );
    const bulkRecord = { ...fields, event_id: newId("event") };
    const [viaBulk] = await bulkInsert(harness.client, "usage_logs", [bulkRecord], {
      uniqueBy: ["tenant", "event_id"],
    });
    if (viaBulk?.status !== "created") throw new Error(`bulk insert answered ${JSON.stringify(viaBulk)}`);

    const read = (id: string) => harness.client.callRaw((pb) => pb.collection("usage_logs").getOne(id));
    const [api, bulk] = await Promise.all([read(viaApi.id), read(viaBulk.id)]);
    const { id: _a, event_id: _b, created: apiCreated, updated: _c, ...apiFields } = api;
    const { id: bulkId, event_id: _d, created: bulkCreated, updated: bulkUpdated, ...bulkFields } = bulk;
    expect(bulkFields).toEqual(apiFields);
    expect(bulkFields).toMatchObject({
      estimated: true,
      metadata: fields.metadata,
      occurred_at: "2026-11-05 10:20:30.123Z",
    });
    expect(bulkId).toMatch(/^use_[a-z0-9]{15}$/);
    const pbDate = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/;
    expect(apiCreated).toMatch(pbDate);
    expect(bulkCreated).toMatch(pbDate);
    expect(bulkUpdated).toBe(bulkCreated);
  });
});

describe("POST /api/cloudfreedom/bulk/{collection}", () => {
  const path = "/api/cloudfreedom/bulk/usage_logs";

  it("answers 401 without a token and writes nothing", async () => {
    const before = await storedCount();
    const response = await post(path, { records: [usageLog(newId("event"))] });
    expect(response.status).toBe(401);
    expect(await storedCount()).toBe(before);
  });

  it("answers 403 to a user that is not a superuser", async () => {
    const { user } = await createUser({ db: harness.db });
    const impersonated = await harness.client.callRaw((pb) =>
      pb.collection("users").impersonate(user.id, 600),
    );
    const response = await post(path, { records: [usageLog(newId("event"))] }, impersonated.authStore.token);
    expect(response.status).toBe(403);
  });

  it("answers 404 for an unknown collection", async () => {
    const response = await post("/api/cloudfreedom/bulk/nope", { records: [{}] }, await superuserToken());
    expect(response).toMatchObject({ status: 404, body: { message: 'Collection "nope" not found.' } });
  });

  it("answers 400 naming records when there are more than 5,000", async () => {
    const records = Array.from({ length: 5_001 }, () => usageLog(newId("event")));
    const before = await storedCount();
    const response = await post(path, { unique_by: ["tenant", "event_id"], records }, await superuserToken());
    expect(response).toMatchObject({
      status: 400,
      body: {
        message: "Records holds 5001 records; send 1 to 5000 per request.",
        data: { records: { code: "validation_length_out_of_range" } },
      },
    });
    expect(await storedCount()).toBe(before);
  });

  it("answers 400 naming records when they are missing or empty", async () => {
    const token = await superuserToken();
    const missing = await post(path, { unique_by: ["tenant", "event_id"] }, token);
    expect(missing).toMatchObject({
      status: 400,
      body: { data: { records: { code: "validation_required" } } },
    });
    const empty = await post(path, { records: [] }, token);
    expect(empty).toMatchObject({
      status: 400,
      body: { data: { records: { code: "validation_length_out_of_range" } } },
    });
  });

  it("answers 400 to a body that is not the documented JSON", async () => {
    const token = await superuserToken();
    const notObjects = await post(path, { records: [1, 2] }, token);
    expect(notObjects).toMatchObject({
      status: 400,
      body: { data: { body: { code: "validation_invalid_body" } } },
    });
    const misspelt = await post(path, { uniqueBy: ["tenant", "event_id"], records: [{}] }, token);
    expect(misspelt).toMatchObject({
      status: 400,
      body: { data: { body: { code: "validation_invalid_body" } } },
    });
    const unknownKey = await post(path, { unique_by: ["tenant", "nope"], records: [{}] }, token);
    expect(unknownKey).toMatchObject({
      status: 400,
      body: { data: { unique_by: { code: "validation_unknown_field" } } },
    });
  });
});
