import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POCKETBASE_MIGRATIONS_DIR } from "../../../../packages/testing/src/paths.ts";
import {
  connectAsSuperuser,
  ensurePocketBaseBinary,
  pocketBaseClient,
  type StartedPocketBase,
  startPocketBase,
} from "../../../../packages/testing/src/pocketbase.ts";

type PocketBase = Awaited<ReturnType<typeof connectAsSuperuser>>;

const CONTROL_PLANE = ["plans", "tenants", "users", "memberships", "api_keys", "audit_logs"];
const CATALOG = ["providers", "models"];
const BILLING = ["subscriptions", "budgets", "stripe_events"];
const OBSERVABILITY = [
  "workspaces",
  "trace_sessions",
  "traces",
  "spans",
  "shared_items",
  "analytics_rollups",
];
// The auth service's own collections (1767226200_auth.js).
const AUTH = ["signing_keys", "refresh_tokens", "invitations"];
const ALL = [...CONTROL_PLANE, ...CATALOG, ...BILLING, "usage_logs", ...OBSERVABILITY, ...AUTH];
// Read-only aggregate views over usage_logs (1767226600_billing_usage.js).
const VIEWS = ["usage_period_totals", "usage_daily_totals"];
// Every collection's case-insensitive id index (1767226500_id_lookup_indexes.js), outside the tenant-first rule.
const isIdLookupIndex = (name: string) => /^idx_\w+_id_nocase$/.test(name);

const TENANT_OWNED = [
  "memberships",
  "api_keys",
  "subscriptions",
  "budgets",
  "usage_logs",
  "workspaces",
  "trace_sessions",
  "traces",
  "spans",
  "shared_items",
  "analytics_rollups",
  "refresh_tokens",
  "invitations",
];
// Indexes that resolve the tenant from a global identifier, so they cannot start with it.
const TENANT_RESOLVING_INDEXES = [
  "idx_api_keys_hash",
  "idx_memberships_user",
  "idx_shared_items_token_hash",
  "idx_subscriptions_stripe_subscription_id",
  "idx_refresh_tokens_hash",
  "idx_invitations_token_hash",
];

interface SchemaField {
  name: string;
  type: string;
  required?: boolean;
  collectionId?: string;
  maxSelect?: number;
  onlyInt?: boolean;
  onCreate?: boolean;
  onUpdate?: boolean;
}

const sha256Hex = () => randomBytes(32).toString("hex");
const unique = (label: string) => `${label}-${randomBytes(4).toString("hex")}`;

/** Name and first column of every index, parsed from its CREATE INDEX statement. */
function indexesOf(indexes: string[]): { name: string; firstColumn: string }[] {
  return indexes.map((sql) => {
    const match = /INDEX\s+`?(\w+)`?\s+ON\s+`?\w+`?\s*\(\s*`?(\w+)`?/i.exec(sql);
    if (!match?.[1] || !match[2]) throw new Error(`unparsable index: ${sql}`);
    return { name: match[1], firstColumn: match[2] };
  });
}

describe("PocketBase migrations on a served instance", () => {
  let pocketbase: StartedPocketBase;
  let pb: PocketBase;

  beforeAll(async () => {
    pocketbase = await startPocketBase();
    pb = await connectAsSuperuser(pocketbase);
  });

  afterAll(async () => {
    await pocketbase?.stop();
  });

  async function createTenant(slug = unique("t")) {
    return pb
      .collection("tenants")
      .create({ slug, name: slug, tier: "free", currency: "EUR", status: "active" });
  }

  it("creates every collection of DESIGN.md §4", async () => {
    const names = (await pb.collections.getFullList()).map((collection) => collection.name);
    expect(names).toEqual(expect.arrayContaining(ALL));
  });

  it("closes every collection to everyone but superusers", async () => {
    for (const name of ALL) {
      const collection = await pb.collections.getOne(name);
      const rules = [
        collection.listRule,
        collection.viewRule,
        collection.createRule,
        collection.updateRule,
        collection.deleteRule,
      ];
      if (collection.type === "auth") rules.push(collection.authRule, collection.manageRule);
      expect(rules, name).toEqual(rules.map(() => null));
    }

    const anonymous = pocketBaseClient(pocketbase.url);
    await expect(anonymous.collection("tenants").getList()).rejects.toMatchObject({ status: 403 });
    await expect(anonymous.collection("users").getList()).rejects.toMatchObject({ status: 403 });
    const signUp = {
      email: `${unique("u")}@example.com`,
      password: "a-long-password",
      passwordConfirm: "a-long-password",
    };
    await expect(anonymous.collection("users").create(signUp)).rejects.toMatchObject({ status: 403 });
  });

  it("gives every tenant-owned collection a required tenant relation leading its indexes", async () => {
    const tenants = await pb.collections.getOne("tenants");
    const leadingOther: string[] = [];
    for (const name of [...TENANT_OWNED, "audit_logs"]) {
      const collection = await pb.collections.getOne(name);
      const tenant = (collection.fields as SchemaField[]).find((field) => field.name === "tenant");
      expect(tenant, name).toMatchObject({
        type: "relation",
        collectionId: tenants.id,
        maxSelect: 1,
        // audit_logs also records events of no tenant (a failed login for an unknown email).
        required: name !== "audit_logs",
      });
      const indexes = indexesOf(collection.indexes);
      expect(
        indexes.some((index) => index.firstColumn === "tenant"),
        name,
      ).toBe(true);
      leadingOther.push(
        ...indexes
          .filter((index) => index.firstColumn !== "tenant" && !isIdLookupIndex(index.name))
          .map((index) => index.name),
      );
    }
    expect(leadingOther.sort()).toEqual([...TENANT_RESOLVING_INDEXES].sort());
  });

  it("stores money and counters as integers and stamps created/updated on every row", async () => {
    for (const name of ALL) {
      const fields = (await pb.collections.getOne(name)).fields as SchemaField[];
      for (const field of fields.filter((f) => f.name.endsWith("_micros") || f.name.endsWith("_tokens"))) {
        expect(field, `${name}.${field.name}`).toMatchObject({ type: "number", onlyInt: true });
      }
      expect(
        fields.find((f) => f.name === "created"),
        name,
      ).toMatchObject({ type: "autodate", onCreate: true });
      expect(
        fields.find((f) => f.name === "updated"),
        name,
      ).toMatchObject({ type: "autodate", onUpdate: true });
    }

    const plan = { slug: unique("p"), name: "Starter", tier: "starter", currency: "EUR", interval: "month" };
    await expect(pb.collection("plans").create({ ...plan, price_micros: 9_990_000.5 })).rejects.toMatchObject(
      {
        status: 400,
        response: { data: { price_micros: { code: "validation_only_int_constraint" } } },
      },
    );
    const stored = await pb.collection("plans").create({ ...plan, price_micros: 9_990_000, markup_pct: 20 });
    expect(stored).toMatchObject({ price_micros: 9_990_000, markup_pct: 20 });
    expect(stored.created).toMatch(/^\d{4}-\d{2}-\d{2} /);
  });

  it("gives every collection a case-insensitive id index, so inserts do not scan the table", async () => {
    for (const name of ALL) {
      const collection = await pb.collections.getOne(name);
      expect(collection.indexes, name).toContainEqual(expect.stringMatching(/`?id`? COLLATE NOCASE/));
      expect(
        indexesOf(collection.indexes).map((index) => index.name),
        name,
      ).toContain(`idx_${name}_id_nocase`);
    }
  });

  it("sums usage_logs per tenant, period, key and user, and per day and model, in closed views", async () => {
    const [tenant, other] = await Promise.all([createTenant(), createTenant()]);
    const row = (tenantId: string, eventId: string, model: string, billed: number, status = "success") => ({
      tenant: tenantId,
      event_id: eventId,
      source: "router",
      model,
      status,
      input_tokens: 10,
      output_tokens: 5,
      cost_micros: billed,
      billed_micros: billed,
      period: "2026-11",
      occurred_at: `2026-11-0${eventId.endsWith("3") ? 2 : 1} 10:00:00.000Z`,
    });
    const batch = pb.createBatch();
    batch.collection("usage_logs").create(row(tenant.id, "evt_v1", "gpt-4o", 100));
    batch.collection("usage_logs").create(row(tenant.id, "evt_v2", "gpt-4o", 0, "error"));
    batch.collection("usage_logs").create(row(tenant.id, "evt_v3", "claude", 50));
    batch.collection("usage_logs").create(row(other.id, "evt_v1", "gpt-4o", 999));
    await batch.send();
    const filter = pb.filter("tenant = {:t} && period = '2026-11'", { t: tenant.id });

    const totals = await pb.collection("usage_period_totals").getFullList({ filter });
    expect(totals.map((r) => [r.billed_micros, r.requests, r.queries])).toEqual([[150, 3, 2]]);
    expect(totals[0]).toMatchObject({ tenant: tenant.id, period: "2026-11", api_key: "", user: "" });
    const daily = await pb.collection("usage_daily_totals").getFullList({ filter, sort: "day,model" });
    expect(daily.map((r) => [r.day, r.model, r.requests, r.failed_requests, r.billed_micros])).toEqual([
      ["2026-11-01", "gpt-4o", 2, 1, 100],
      ["2026-11-02", "claude", 1, 0, 50],
    ]);
    for (const name of VIEWS) {
      const view = await pb.collections.getOne(name);
      expect(view.type, name).toBe("view");
      expect([view.listRule, view.viewRule], name).toEqual([null, null]);
    }
    await expect(
      pocketBaseClient(pocketbase.url).collection("usage_period_totals").getList(),
    ).rejects.toMatchObject({
      status: 403,
    });
  });

  it("keeps usage_period_totals right as logs are created, updated and deleted through the records API", async () => {
    const tenant = await createTenant();
    const logs = pb.collection("usage_logs");
    const log = (eventId: string, billed: number, status = "success") =>
      logs.create({
        tenant: tenant.id,
        event_id: eventId,
        source: "router",
        model: "gpt-4o",
        status,
        cost_micros: billed,
        billed_micros: billed,
        period: "2026-11",
        occurred_at: "2026-11-01 10:00:00.000Z",
      });
    const [a, b] = await Promise.all([log("evt_t1", 100), log("evt_t2", 0, "error"), log("evt_t3", 50)]);
    const totals = async (period = "2026-11") =>
      (
        await pb
          .collection("usage_period_totals")
          .getFullList({ filter: pb.filter("tenant = {:t} && period = {:p}", { t: tenant.id, p: period }) })
      ).map((r) => [r.billed_micros, r.requests, r.queries]);
    expect(await totals()).toEqual([[150, 3, 2]]);
    // An error that was billed after all counts as a query; a log moved to another period moves its sums.
    await logs.update(b?.id ?? "", { billed_micros: 20 });
    expect(await totals()).toEqual([[170, 3, 3]]);
    await logs.update(a?.id ?? "", { period: "2026-12" });
    expect(await totals()).toEqual([[70, 2, 2]]);
    expect(await totals("2026-12")).toEqual([[100, 1, 1]]);
    await logs.delete(a?.id ?? "");
    expect(await totals("2026-12")).toEqual([]);
    expect(await totals()).toEqual([[70, 2, 2]]);
  });

  it("gives records type-prefixed ids", async () => {
    const tenant = await createTenant();
    expect(tenant.id).toMatch(/^tnt_[a-z0-9]{15}$/);
    const user = await pb.collection("users").create({
      email: `${unique("u")}@example.com`,
      password: "a-long-password",
      passwordConfirm: "a-long-password",
      name: "Ada",
      default_tenant: tenant.id,
    });
    expect(user).toMatchObject({
      id: expect.stringMatching(/^usr_/),
      name: "Ada",
      default_tenant: tenant.id,
    });
  });

  it("refuses a second tenant with the same slug", async () => {
    const slug = unique("acme");
    await createTenant(slug);
    await expect(createTenant(slug)).rejects.toMatchObject({
      status: 400,
      response: { data: { slug: { code: "validation_not_unique" } } },
    });
  });

  it("refuses a second api key with the same hash, even in another tenant", async () => {
    const [first, second] = await Promise.all([createTenant(), createTenant()]);
    const hash = sha256Hex();
    const key = (tenant: string) => ({ tenant, hash, prefix: "cf_live_ab", name: "ci" });
    await pb.collection("api_keys").create(key(first.id));
    await expect(pb.collection("api_keys").create(key(second.id))).rejects.toMatchObject({ status: 400 });
    const stored = await pb
      .collection("api_keys")
      .getFullList({ filter: pb.filter("hash = {:hash}", { hash }) });
    expect(stored.map((row) => row.tenant)).toEqual([first.id]);
  });

  it("refuses duplicates of every other natural key", async () => {
    const tenant = await createTenant();
    const cases: [collection: string, row: Record<string, unknown>][] = [
      ["plans", { slug: unique("p"), name: "Pro", tier: "pro", currency: "EUR", interval: "month" }],
      ["models", { model_id: unique("gpt") }],
      ["providers", { name: unique("openai"), kind: "openai" }],
      ["stripe_events", { event_id: unique("evt"), type: "invoice.paid" }],
      [
        "subscriptions",
        { tenant: tenant.id, stripe_subscription_id: unique("sub"), status: "active", tier: "pro" },
      ],
      ["workspaces", { tenant: tenant.id, name: "Default", slug: unique("w") }],
      ["trace_sessions", { tenant: tenant.id, session_id: unique("s") }],
      ["traces", { tenant: tenant.id, trace_id: unique("trace") }],
      [
        "spans",
        {
          tenant: tenant.id,
          trace_id: unique("trace"),
          span_id: "a1",
          name: "chat gpt-4o",
          start_time: "2026-11-23 10:00:00.000Z",
        },
      ],
      ["shared_items", { tenant: tenant.id, kind: "trace", item_id: "trc_1", token_hash: sha256Hex() }],
      [
        "analytics_rollups",
        {
          tenant: tenant.id,
          granularity: "day",
          bucket_start: "2026-11-23 00:00:00.000Z",
          model: unique("m"),
        },
      ],
    ];
    for (const [collection, row] of cases) {
      await pb.collection(collection).create(row);
      await expect(pb.collection(collection).create(row), collection).rejects.toMatchObject({ status: 400 });
    }
  });

  it("keeps memberships, budgets and usage event ids unique per tenant", async () => {
    const [tenant, other] = await Promise.all([createTenant(), createTenant()]);
    const user = await pb.collection("users").create({
      email: `${unique("u")}@example.com`,
      password: "a-long-password",
      passwordConfirm: "a-long-password",
    });

    const membership = { tenant: tenant.id, user: user.id, role: "owner" };
    await pb.collection("memberships").create(membership);
    await expect(
      pb.collection("memberships").create({ ...membership, role: "member" }),
    ).rejects.toMatchObject({
      status: 400,
    });

    const budget = { tenant: tenant.id, scope_type: "tenant", scope_id: tenant.id, period: "2026-11" };
    await pb.collection("budgets").create({ ...budget, limit_micros: 25_000_000 });
    await expect(pb.collection("budgets").create(budget)).rejects.toMatchObject({ status: 400 });
    await pb.collection("budgets").create({ ...budget, period: "2026-12" });

    const usage = (tenantId: string) => ({
      tenant: tenantId,
      event_id: "evt_same",
      source: "router",
      model: "gpt-4o",
      status: "success",
      period: "2026-11",
      occurred_at: "2026-11-23 10:00:00.000Z",
    });
    await pb.collection("usage_logs").create(usage(tenant.id));
    await expect(pb.collection("usage_logs").create(usage(tenant.id))).rejects.toMatchObject({ status: 400 });
    await pb.collection("usage_logs").create(usage(other.id));
  });

  it("writes three usage logs in one batch request, all or nothing", async () => {
    const settings = await pb.settings.getAll();
    expect(settings.batch).toMatchObject({ enabled: true, maxRequests: 1000 });

    const tenant = await createTenant();
    const row = (eventId: string) => ({
      tenant: tenant.id,
      event_id: eventId,
      source: "router",
      model: "gpt-4o",
      input_tokens: 12,
      output_tokens: 34,
      cost_micros: 150,
      billed_micros: 180,
      status: "success",
      period: "2026-11",
      occurred_at: "2026-11-23 10:00:00.000Z",
    });

    const batch = pb.createBatch();
    for (const id of ["evt_1", "evt_2", "evt_3"]) batch.collection("usage_logs").create(row(id));
    const results = await batch.send();
    expect(results.map((result) => result.status)).toEqual([200, 200, 200]);

    // A batch holding a duplicate event id fails as a whole: evt_4 is not stored either.
    const failing = pb.createBatch();
    failing.collection("usage_logs").create(row("evt_4"));
    failing.collection("usage_logs").create(row("evt_1"));
    await expect(failing.send()).rejects.toMatchObject({ status: 400 });

    const stored = await pb.collection("usage_logs").getFullList({
      filter: pb.filter("tenant = {:tenant}", { tenant: tenant.id }),
      sort: "event_id",
    });
    expect(stored.map((r) => [r.event_id, r.billed_micros])).toEqual([
      ["evt_1", 180],
      ["evt_2", 180],
      ["evt_3", 180],
    ]);
  });
});

describe("PocketBase migrations run up and down from the command line", () => {
  let root: string;
  let emptyMigrationsDir: string;
  let dataDir: string;
  let bin: string;

  beforeAll(async () => {
    bin = await ensurePocketBaseBinary();
    root = await mkdtemp(join(tmpdir(), "cf-pb-migrate-"));
    dataDir = join(root, "pb_data");
    emptyMigrationsDir = join(root, "no_migrations");
  });

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** Runs the binary against the test's data dir; `answer` is typed at the confirmation prompt. */
  function migrate(args: string[], answer = ""): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(bin, [
        "migrate",
        ...args,
        "--dir",
        dataDir,
        "--migrationsDir",
        POCKETBASE_MIGRATIONS_DIR,
      ]);
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stdin.end(answer);
      child.on("error", reject);
      child.on("close", (code) =>
        code === 0
          ? resolve(output)
          : reject(new Error(`migrate ${args.join(" ")} exited ${code}:\n${output}`)),
      );
    });
  }

  /** Collections and batch setting of the stopped data dir, read by serving it without applying migrations. */
  async function inspect(): Promise<{
    collections: string[];
    batchEnabled: boolean;
    usersListRule: unknown;
  }> {
    const instance = await startPocketBase({ dataDir, migrationsDir: emptyMigrationsDir });
    try {
      const pb = await connectAsSuperuser(instance);
      const collections = (await pb.collections.getFullList()).map((collection) => collection.name);
      const settings = await pb.settings.getAll();
      const users = await pb.collections.getOne("users");
      return { collections, batchEnabled: settings.batch.enabled, usersListRule: users.listRule };
    } finally {
      await instance.stop();
    }
  }

  it("applies every migration once, reverts them in order, and applies them again", async () => {
    const files = (await readdir(POCKETBASE_MIGRATIONS_DIR)).filter((file) => file.endsWith(".js")).sort();

    const firstUp = await migrate(["up"]);
    expect(firstUp.match(/Applied \S+\.js/g)).toEqual(files.map((file) => `Applied ${file}`));
    expect(await migrate(["up"])).toMatch(/No new migrations to apply/);

    const afterUp = await inspect();
    expect(afterUp.collections).toEqual(expect.arrayContaining(ALL));
    expect(afterUp.batchEnabled).toBe(true);

    // Down to before the observability collections: the auth collections, batch settings and observability.
    const reverted = files.length - files.findIndex((file) => file.endsWith("_observability.js"));
    const lastOnes = files.slice(-reverted).reverse();
    expect((await migrate(["down", String(reverted)], "y\n")).match(/Reverted \S+\.js/g)).toEqual(
      lastOnes.map((file) => `Reverted ${file}`),
    );
    const afterSomeDown = await inspect();
    expect(afterSomeDown.batchEnabled).toBe(false);
    expect(afterSomeDown.collections).toEqual(
      expect.arrayContaining([...CONTROL_PLANE, ...CATALOG, ...BILLING, "usage_logs"]),
    );
    expect(
      afterSomeDown.collections.filter((name) => OBSERVABILITY.includes(name) || AUTH.includes(name)),
    ).toEqual([]);

    await migrate(["down", String(files.length - reverted)], "y\n");
    const afterAllDown = await inspect();
    expect(afterAllDown.collections.filter((name) => ALL.includes(name))).toEqual(["users"]);
    expect(afterAllDown.usersListRule).toBe("id = @request.auth.id");

    expect((await migrate(["up"])).match(/Applied \S+\.js/g)).toHaveLength(files.length);
    expect((await inspect()).collections).toEqual(expect.arrayContaining(ALL));
  });
});
