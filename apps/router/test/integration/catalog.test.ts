import { createDb, createPocketBase, type Db, modelToRow, pbDateToMs } from "@cloudfreedom/db";
import { createLogger } from "@cloudfreedom/service-kit";
import { type StartedPocketBase, startPocketBase } from "@cloudfreedom/testing";
import { Hono } from "hono";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { RouterDeps } from "../../src/deps.ts";
import { RouterEnv } from "../../src/env.ts";
import { registerModelRoutes } from "../../src/routes/v1/models.ts";
import { Catalog } from "../../src/services/catalog/catalog.ts";
import { MASTER_KEY, model } from "./stack.ts";

// The catalog against a real PocketBase, without the rest of the router.
let pocketbase: StartedPocketBase;
let db: Db;

beforeAll(async () => {
  pocketbase = await startPocketBase();
  db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );
});
afterAll(async () => {
  await pocketbase?.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

function catalogWithLog(): { catalog: Catalog; env: RouterEnv; logged: Array<Record<string, unknown>> } {
  const logged: Array<Record<string, unknown>> = [];
  const logger = createLogger("router", "info", {
    write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>),
  });
  const env = RouterEnv.parse({
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
    POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
    MASTER_KEY,
  });
  return { catalog: new Catalog({ db, env, logger }), env, logged };
}

describe("GET /v1/models created", () => {
  it("is the model row's creation time, the same across catalog reloads", async () => {
    const row = await db.operator
      .collection("models")
      .create(modelToRow(model("created-test", [["openai", "gpt-4o-mini"]])));
    const rowCreated = Math.floor((pbDateToMs(row.created) ?? 0) / 1000);
    const { catalog, env } = catalogWithLog();
    const app = new Hono();
    registerModelRoutes(app, { env, catalog } as unknown as RouterDeps);
    const createdOf = async () => {
      const body = (await (await app.request("/v1/models/created-test")).json()) as { created: number };
      return body.created;
    };

    // Reloads an hour and two hours later must not move it.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3_600_000);
    await catalog.refresh();
    expect(await createdOf()).toBe(rowCreated);
    vi.setSystemTime(Date.now() + 3_600_000);
    await catalog.refresh();
    expect(await createdOf()).toBe(rowCreated);
  });
});

describe("provider not usable", () => {
  it("is logged once for a disabled provider across reloads, and again when its reason changes", async () => {
    const providers = db.operator.collection("providers");
    const row = await providers.create({
      name: "disabled-test",
      kind: "openai",
      base_url: "",
      enabled: false,
      credentials_encrypted: "",
      options: null,
    });
    const { catalog, logged } = catalogWithLog();
    const warnings = () =>
      logged
        .filter((line) => line.msg === "provider not usable" && line.provider === "disabled-test")
        .map((line) => line.reason);

    await catalog.refresh();
    await catalog.refresh();
    expect(warnings()).toEqual(["disabled"]);

    await providers.update(row.id, { enabled: true, base_url: "", kind: "azure" });
    await catalog.refresh();
    await catalog.refresh();
    expect(warnings()).toEqual(["disabled", "no base_url"]);
  });
});
