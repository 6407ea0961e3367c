import type { Admission, SettleRequest } from "@cloudfreedom/admission";
import { createLogger } from "@cloudfreedom/service-kit";
import type { Span, UsageEventInput } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import type { EventPublisher } from "../../src/services/events/publisher.ts";
import { Settler } from "../../src/services/events/settler.ts";

describe("Settler", () => {
  it("keeps a batch whose settle call throws, then settles and publishes it once Redis answers", async () => {
    let calls = 0;
    const admission = {
      settle: async (batch: SettleRequest[]) => {
        calls++;
        if (calls === 1) throw new Error("connection reset");
        return batch.map(() => ({ kind: "settled" }));
      },
    } as unknown as Admission;
    const published: string[] = [];
    let queueFlushes = 0;
    const events = {
      publish: (event: UsageEventInput) => void published.push(event.event_id),
      flush: async () => {
        queueFlushes++;
      },
    } as unknown as EventPublisher;
    const settler = new Settler({ admission, events, flushMs: 1, logger: createLogger("test", "silent") });
    let built = 0;
    settler.submit({ reservationId: "rsv_1" } as SettleRequest, () => {
      built++;
      return { event: { event_id: `evt_${built}` } as UsageEventInput, span: {} as Span };
    });
    expect(built).toBe(0);
    await settler.flush();
    expect(published).toEqual([]);
    expect(queueFlushes).toBe(0);
    expect(settler.backlog).toBe(1);
    await settler.flush();
    // Built once, at the first flush: the retry publishes the same event id.
    expect(published).toEqual(["evt_1"]);
    // Settled events are handed to their queue at once, not a flush window later.
    expect(queueFlushes).toBe(1);
    expect(built).toBe(1);
    expect(settler.backlog).toBe(0);
  });

  it("settles a call whose events cannot be built and still publishes the rest of its batch", async () => {
    const settled: string[] = [];
    const admission = {
      settle: async (batch: SettleRequest[]) => {
        settled.push(...batch.map((item) => item.reservationId));
        return batch.map(() => ({ kind: "settled" }));
      },
    } as unknown as Admission;
    const published: string[] = [];
    const events = {
      publish: (event: UsageEventInput) => void published.push(event.event_id),
      flush: async () => {},
    } as unknown as EventPublisher;
    const settler = new Settler({ admission, events, flushMs: 1, logger: createLogger("test", "silent") });
    settler.submit({ reservationId: "rsv_1" } as SettleRequest, () => {
      throw new Error("bug");
    });
    settler.submit({ reservationId: "rsv_2" } as SettleRequest, () => ({
      event: { event_id: "evt_2" } as UsageEventInput,
      span: {} as Span,
    }));
    await settler.flush();
    expect(settled).toEqual(["rsv_1", "rsv_2"]);
    expect(published).toEqual(["evt_2"]);
    expect(settler.backlog).toBe(0);
  });

  it("publishes what it could not settle by shutdown as unsettled, with each call's hold, for the worker to charge", async () => {
    const admission = {
      settle: async (batch: SettleRequest[]) =>
        batch.map(() => ({ kind: "failed", error: new Error("connection reset") })),
    } as unknown as Admission;
    const published: UsageEventInput[] = [];
    const events = {
      publish: (event: UsageEventInput) => void published.push(event),
      flush: async () => {},
    } as unknown as EventPublisher;
    const settler = new Settler({ admission, events, flushMs: 1, logger: createLogger("test", "silent") });
    settler.submit({ reservationId: "rsv_1", hold: "rsv_1|2026-12|1000" } as SettleRequest, () => ({
      event: { event_id: "evt_1" } as UsageEventInput,
      span: {} as Span,
    }));
    settler.submit({ reservationId: "rsv_2", hold: null } as SettleRequest, () => ({
      event: { event_id: "evt_2" } as UsageEventInput,
      span: {} as Span,
    }));
    await settler.close();
    expect(published).toEqual([
      { event_id: "evt_1", settlement: { hold: "rsv_1|2026-12|1000" } },
      { event_id: "evt_2", settlement: { hold: null } },
    ]);
    expect(settler.backlog).toBe(0);
  });
  it("settles a tenant's waiting calls at once on request, one already in a flush included, and says whether it had any", async () => {
    const settled: string[] = [];
    let release: () => void = () => {};
    let first = true;
    const admission = {
      settle: async (batch: SettleRequest[]) => {
        // The first batch's reply waits: the tenant's call is then in the flush, no longer pending.
        if (first) {
          first = false;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        }
        settled.push(...batch.map((item) => item.reservationId));
        return batch.map(() => ({ kind: "settled" }));
      },
    } as unknown as Admission;
    const events = { publish: () => {}, flush: async () => {} } as unknown as EventPublisher;
    // A flush window far longer than the test: only settleTenantNow (and the explicit flush) settle anything.
    const settler = new Settler({
      admission,
      events,
      flushMs: 60_000,
      logger: createLogger("test", "silent"),
    });
    const build = () => ({ event: {} as UsageEventInput, span: {} as Span });
    settler.submit({ reservationId: "rsv_a1", tenantId: "tnt_a" } as SettleRequest, build);
    const inFlight = settler.flush();
    settler.submit({ reservationId: "rsv_b1", tenantId: "tnt_b" } as SettleRequest, build);
    expect(await settler.settleTenantNow("tnt_c")).toBe(false);
    const now = settler.settleTenantNow("tnt_a");
    release();
    expect(await now).toBe(true);
    await inFlight;
    // rsv_a1 was in the flush when asked: waited for, not settled twice; nothing of tnt_a is left.
    expect(settled).toEqual(["rsv_a1"]);
    expect(await settler.settleTenantNow("tnt_a")).toBe(false);
    expect(await settler.settleTenantNow("tnt_b")).toBe(true);
    expect(settled).toEqual(["rsv_a1", "rsv_b1"]);
    expect(settler.backlog).toBe(0);
  });
});
