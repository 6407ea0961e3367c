import type { Admission, SettleRequest } from "@cloudfreedom/admission";
import { createLogger } from "@cloudfreedom/service-kit";
import type { Span, UsageEventInput } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import type { EventPublisher } from "../../src/services/events/publisher.ts";
import { type BudgetRefusal, Settler } from "../../src/services/events/settler.ts";

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
  describe("settleForRefusal", () => {
    const build = () => ({ event: {} as UsageEventInput, span: {} as Span });
    /** A finished call of key `keyId` that held 12 and cost `billed`. */
    const call = (id: string, tenantId: string, keyId: string, billed: number) =>
      ({
        reservationId: id,
        tenantId,
        keyId,
        userId: null,
        hold: `${id}|2026-12|12|10|0|||`,
        billedMicros: billed,
      }) as unknown as SettleRequest;
    const refusal = (over: Partial<BudgetRefusal> = {}): BudgetRefusal => ({
      tenantId: "tnt_a",
      scope: "key",
      scopeId: "key_1",
      shortfallMicros: 5,
      ...over,
    });

    function settlerWith(settle: (batch: SettleRequest[]) => Promise<unknown[]>) {
      const events = { publish: () => {}, flush: async () => {} } as unknown as EventPublisher;
      // A flush window far longer than the test: only settleForRefusal and explicit flushes settle anything.
      return new Settler({
        admission: { settle } as unknown as Admission,
        events,
        flushMs: 60_000,
        logger: createLogger("test", "silent"),
      });
    }

    it("settles the refused scope's waiting calls, one already in a flush included, before it answers", async () => {
      const settled: string[] = [];
      let release: () => void = () => {};
      let first = true;
      const settler = settlerWith(async (batch) => {
        // The first batch's reply waits: its call is then in the flush, no longer pending.
        if (first) {
          first = false;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        }
        settled.push(...batch.map((item) => item.reservationId));
        return batch.map(() => ({ kind: "settled" }));
      });
      settler.submit(call("rsv_1", "tnt_a", "key_1", 3), build);
      const inFlight = settler.flush();
      settler.submit(call("rsv_2", "tnt_a", "key_1", 3), build);
      settler.submit(call("rsv_3", "tnt_b", "key_1", 3), build);
      let answered = false;
      const now = settler.settleForRefusal(refusal(), 1_000).then((result) => {
        answered = true;
        return result;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(answered).toBe(false);
      release();
      expect(await now).toBe(true);
      // Both of key_1's calls settled by the time it answered (rsv_3 rode along in the second batch).
      expect(settled).toEqual(["rsv_1", "rsv_2", "rsv_3"]);
      await inFlight;
      expect(settler.backlog).toBe(0);
    });

    it("does nothing for calls of other scopes, or when settling them would not make room", async () => {
      let batches = 0;
      const settler = settlerWith(async (batch) => {
        batches++;
        return batch.map(() => ({ kind: "settled" }));
      });
      settler.submit(call("rsv_1", "tnt_a", "key_1", 3), build);
      settler.submit(call("rsv_2", "tnt_a", "key_2", 3), build);
      expect(await settler.settleForRefusal(refusal({ tenantId: "tnt_b" }), 1_000)).toBe(false);
      expect(await settler.settleForRefusal(refusal({ scopeId: "key_3" }), 1_000)).toBe(false);
      // key_1's one call frees 12 − 3 = 9: not the 10 the refusal lacks.
      expect(await settler.settleForRefusal(refusal({ shortfallMicros: 10 }), 1_000)).toBe(false);
      expect(batches).toBe(0);
      // The tenant's scope counts both calls: 18.
      expect(await settler.settleForRefusal(refusal({ scope: "tenant", shortfallMicros: 10 }), 1_000)).toBe(
        true,
      );
      expect(batches).toBe(1);
    });

    it("answers false when the settling fails or outlasts its time", async () => {
      const failing = settlerWith(async (batch) =>
        batch.map(() => ({ kind: "failed", error: new Error("connection reset") })),
      );
      failing.submit(call("rsv_1", "tnt_a", "key_1", 3), build);
      expect(await failing.settleForRefusal(refusal(), 1_000)).toBe(false);
      // Redis failing: the next refusal does not even try.
      expect(await failing.settleForRefusal(refusal(), 1_000)).toBe(false);
      expect(failing.backlog).toBe(1);

      const stuck = settlerWith(() => new Promise(() => {}));
      stuck.submit(call("rsv_1", "tnt_a", "key_1", 3), build);
      expect(await stuck.settleForRefusal(refusal(), 30)).toBe(false);
    });
  });
});
