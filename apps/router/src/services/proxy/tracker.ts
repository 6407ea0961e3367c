import { isRefundable, type Reservation } from "@cloudfreedom/admission";
import { type Deployment, isAppError, type KeyRecord } from "@cloudfreedom/shared";
import type { RouterDeps } from "../../deps.ts";
import { makeUsage } from "../../providers/common.ts";
import type { NormalizedUsage, ProviderTarget } from "../../providers/types.ts";
import { ClientGone } from "../routing/execute.ts";
import { buildCallRecord, type CallRecord, type Operation, priceCall } from "../usage/record.ts";
import type { AdmittedModel } from "./admission.ts";
import { admissionHeaders } from "./budget.ts";

export interface Outcome {
  usage: NormalizedUsage;
  status: "success" | "error" | "cancelled";
  errorCode?: string | null;
  finishReasons?: string[];
  responseModel?: string | null;
}

/**
 * One call's bookkeeping: which deployment served it, how many attempts, and when it ends (success, error, or
 * the client left mid-stream) exactly one settlement of its admission hold with the actual cost, followed by
 * its usage event and span.
 */
export class CallTracker {
  readonly startedAt = Date.now();
  deployment: Deployment | null = null;
  target: ProviderTarget | null = null;
  attempts = 0;
  /** Set when the call was aborted while a provider had its request: the provider read (and bills) the prompt. */
  abortedUpstream = false;
  private finished = false;

  constructor(
    private readonly deps: RouterDeps,
    readonly requestId: string,
    readonly key: KeyRecord,
    readonly admitted: AdmittedModel,
    readonly operation: Operation,
    readonly stream: boolean,
    private readonly traceparent: string | undefined,
    readonly reservation: Reservation,
    private readonly promptTokens: () => number = () => 0,
  ) {
    // Kept from here to `finish`: a tracker exists for every admitted call, and every call's end finishes it.
    deps.keeper.keep(reservation);
  }

  /** Records the call; returns the billed amount in micro-units. Later calls are no-ops returning 0. */
  finish(outcome: Outcome): number {
    if (this.finished) return 0;
    this.finished = true;
    this.deps.keeper.release(this.reservation);
    const record: CallRecord = {
      requestId: this.requestId,
      key: this.key,
      model: this.admitted.model,
      deployment: this.deployment,
      target: this.target,
      operation: this.operation,
      stream: this.stream,
      usage: outcome.usage,
      status: outcome.status,
      errorCode: outcome.errorCode ?? null,
      startedAt: this.startedAt,
      endedAt: Date.now(),
      attempts: this.attempts,
      finishReasons: outcome.finishReasons ?? [],
      responseModel: outcome.responseModel ?? null,
      traceparent: this.traceparent,
      reservationId: this.reservation.id,
      period: this.reservation.period,
    };
    const price = priceCall(record);
    // The event and the span are built when the settler flushes, after the response left: not on its path.
    this.deps.settler.submit(
      {
        reservationId: this.reservation.id,
        hold: this.reservation.hold,
        tenantId: this.key.tenant_id,
        keyId: this.key.key_id,
        userId: this.key.user_id,
        period: this.reservation.period,
        billedMicros: price.billed,
        tokens: outcome.usage.input + outcome.usage.output,
        refundable: isRefundable(outcome.status, price.billed),
      },
      () => buildCallRecord(record, price),
    );
    return price.billed;
  }

  /**
   * A call that ended before any output reached the client: the error's code, and no tokens, except for a
   * client that left while a provider had the request. The provider read that prompt and bills it whether or
   * not anyone waits for the answer (a non-streamed answer is even generated whole), so the call is charged
   * its prompt, counted with the tokenizer and marked estimated, as a cut stream is charged what it produced.
   * One that left during a backoff between attempts (after a 429, a 5xx, a refused connection) pays nothing.
   */
  fail(error: unknown): void {
    const gone = error instanceof ClientGone;
    const code = gone ? "client_disconnected" : isAppError(error) ? error.code : "internal_error";
    const input = gone && this.abortedUpstream ? this.promptTokens() : 0;
    this.finish({
      usage: makeUsage(input, 0, { estimated: input > 0 }),
      status: gone ? "cancelled" : "error",
      errorCode: code,
    });
  }

  headers(): Record<string, string> {
    return {
      "x-cloudfreedom-provider": this.target?.name ?? "",
      "x-cloudfreedom-deployment": this.deployment?.id ?? "",
      "x-cloudfreedom-attempts": String(this.attempts),
      ...admissionHeaders(this.reservation),
    };
  }
}
