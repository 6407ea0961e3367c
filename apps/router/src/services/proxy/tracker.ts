import { type Deployment, type KeyRecord, isAppError } from "@cloudfreedom/shared";
import type { RouterDeps } from "../../deps.ts";
import type { NormalizedUsage, ProviderTarget } from "../../providers/types.ts";
import { makeUsage } from "../../providers/common.ts";
import type { AdmittedModel } from "./admission.ts";
import { type Operation, buildCallRecord } from "../usage/record.ts";

export interface Outcome {
  usage: NormalizedUsage;
  status: "success" | "error" | "cancelled";
  errorCode?: string | null;
  finishReasons?: string[];
  responseModel?: string | null;
}

/**
 * One call's bookkeeping: which deployment served it, how many attempts, and exactly one usage event and
 * span when it ends, whether it succeeded, failed or the client left.
 */
export class CallTracker {
  readonly startedAt = Date.now();
  deployment: Deployment | null = null;
  target: ProviderTarget | null = null;
  attempts = 0;
  private finished = false;

  constructor(
    private readonly deps: RouterDeps,
    readonly requestId: string,
    readonly key: KeyRecord,
    readonly admitted: AdmittedModel,
    readonly operation: Operation,
    readonly stream: boolean,
    private readonly traceparent: string | undefined,
  ) {}

  /** Records the call; returns the billed amount in micro-units. Later calls are no-ops returning 0. */
  finish(outcome: Outcome): number {
    if (this.finished) return 0;
    this.finished = true;
    const { event, span, billed } = buildCallRecord({
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
    });
    this.deps.events.publish(event, span);
    return billed;
  }

  /** A call that failed before any output: no tokens, the error's code. */
  fail(error: unknown): void {
    const code = isAppError(error) ? error.code : "internal_error";
    this.finish({ usage: makeUsage(0, 0), status: error instanceof Error && error.name === "ClientGone" ? "cancelled" : "error", errorCode: code });
  }

  headers(): Record<string, string> {
    return {
      "x-cloudfreedom-provider": this.target?.name ?? "",
      "x-cloudfreedom-deployment": this.deployment?.id ?? "",
      "x-cloudfreedom-attempts": String(this.attempts),
    };
  }
}
