// Cross-package relative import: packages/db does not list @cloudfreedom/testing (which depends on db).
import { type StartedPocketBase, startPocketBase } from "../../../testing/src/pocketbase.ts";
import { createPocketBase, type DbLogger, type PocketBaseClient } from "../../src/client.ts";
import { createDb, type Db } from "../../src/db.ts";

export interface LogLine {
  level: "info" | "warn";
  message: string;
  fields: Record<string, unknown>;
}

export function recordingLogger(): DbLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: "info", message, fields }),
    warn: (fields, message) => lines.push({ level: "warn", message, fields }),
  };
}

export interface DbHarness {
  pocketbase: StartedPocketBase;
  client: PocketBaseClient;
  db: Db;
  logger: ReturnType<typeof recordingLogger>;
}

/** A throwaway PocketBase with every migration applied, and a packages/db client logged in as its operator. */
export async function startDbHarness(): Promise<DbHarness> {
  const pocketbase = await startPocketBase();
  const logger = recordingLogger();
  const client = createPocketBase({
    url: pocketbase.url,
    adminEmail: pocketbase.adminEmail,
    adminPassword: pocketbase.adminPassword,
    logger,
  });
  return { pocketbase, client, db: createDb(client), logger };
}

export const logins = (harness: DbHarness) =>
  harness.logger.lines.filter((line) => line.message === "pocketbase superuser session established").length;
