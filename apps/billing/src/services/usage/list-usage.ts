import type { Db } from "@cloudfreedom/db";
import type { UsageEvent } from "@cloudfreedom/shared";
import { type UsageLogView, usageLogView } from "./usage-log-row.ts";

export interface UsageQuery {
  page: number;
  per_page: number;
  model?: string | undefined;
  key_id?: string | undefined;
  user_id?: string | undefined;
  status?: UsageEvent["status"] | undefined;
  /** ISO instants, inclusive `from`, exclusive `to`. */
  from?: string | undefined;
  to?: string | undefined;
}

export interface UsagePage {
  items: UsageLogView[];
  page: number;
  per_page: number;
  total: number;
  total_pages: number;
}

/** A tenant's usage logs, newest first; every filter is bound, never concatenated. */
export async function listUsage(db: Db, tenantId: string, query: UsageQuery): Promise<UsagePage> {
  const terms: string[] = [];
  const params: Record<string, unknown> = {};
  const add = (term: string, name: string, value: unknown) => {
    terms.push(term);
    params[name] = value;
  };
  if (query.model) add("model = {:model}", "model", query.model);
  if (query.key_id) add("api_key = {:key}", "key", query.key_id);
  if (query.user_id) add("user = {:user}", "user", query.user_id);
  if (query.status) add("status = {:status}", "status", query.status);
  if (query.from) add("occurred_at >= {:from}", "from", new Date(query.from).toISOString().replace("T", " "));
  if (query.to) add("occurred_at < {:to}", "to", new Date(query.to).toISOString().replace("T", " "));
  const page = await db
    .forTenant(tenantId)
    .collection("usage_logs")
    .list({
      ...(terms.length > 0 ? { filter: terms.join(" && "), params } : {}),
      sort: "-occurred_at,-id",
      page: query.page,
      perPage: query.per_page,
    });
  return {
    items: page.items.map(usageLogView),
    page: page.page,
    per_page: page.perPage,
    total: page.totalItems,
    total_pages: page.totalPages,
  };
}
