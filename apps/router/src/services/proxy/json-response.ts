import type { Context } from "hono";
import type { OpenAIUsage } from "../../openai/responses.ts";
import { toOpenAIUsage } from "../../providers/openai/usage.ts";
import type { NormalizedUsage } from "../../providers/types.ts";
import type { CallTracker } from "./tracker.ts";

interface Answer {
  model: string;
  usage?: OpenAIUsage;
  choices: Array<{ finish_reason: string | null }>;
}

export function costHeaders(billed: number, estimated: boolean): Record<string, string> {
  return {
    "x-cloudfreedom-cost-micros": String(billed),
    "x-cloudfreedom-usage-estimated": String(estimated),
  };
}

/** A non-streamed answer: record the call, fill in usage the provider left out, say what it cost. */
export function answerJson(
  c: Context,
  tracker: CallTracker,
  answer: Answer,
  usage: NormalizedUsage,
): Response {
  const billed = tracker.finish({
    usage,
    status: "success",
    finishReasons: answer.choices.flatMap((choice) => (choice.finish_reason ? [choice.finish_reason] : [])),
    responseModel: answer.model,
  });
  if (!answer.usage) answer.usage = toOpenAIUsage(usage);
  return c.json(answer, 200, { ...tracker.headers(), ...costHeaders(billed, usage.estimated) });
}
