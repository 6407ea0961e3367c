// The start command's orchestrator (run by scripts/start after install, PocketBase build and Redis).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type EmulatorHandle, startOpenAIEmulator } from "@cloudfreedom/testing";
import {
  DATA_DIR,
  discoverApps,
  loadDevSecrets,
  PB_BIN,
  PB_MIGRATIONS,
  ROOT,
  saveDevSecrets,
} from "./dev/config.ts";
import { prefixer } from "./dev/logs.ts";
import { type Managed, portInUse, spawnManaged, stopAll, waitForHttp } from "./dev/processes.ts";
import { clearPlatformState, seed } from "./seed/index.ts";

const say = (message: string) => process.stdout.write(`\x1b[1;36m==>\x1b[0m ${message}\n`);
const die = (message: string): never => {
  process.stderr.write(`\x1b[1;31merror:\x1b[0m ${message}\n`);
  process.exit(1);
};

const apps = discoverApps();
const secrets = {
  ...loadDevSecrets(),
  ...pick(process.env, ["POCKETBASE_ADMIN_EMAIL", "POCKETBASE_ADMIN_PASSWORD", "MASTER_KEY"]),
};
const sandboxEnabled = process.env.SANDBOX !== "false";
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 4900);
let sandbox: EmulatorHandle | undefined;
const pbPort = Number(process.env.POCKETBASE_PORT ?? 8090);
const pbUrl = `http://127.0.0.1:${pbPort}`;
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const domain = process.env.PLATFORM_DOMAIN ?? "localhost";

for (const port of [pbPort, ...apps.map((app) => app.port), ...(sandboxEnabled ? [sandboxPort] : [])]) {
  if (await portInUse(port)) {
    die(
      `port ${port} is already in use (another copy of the platform?). Stop it, or free the port, and run again.`,
    );
  }
}

const names = [
  "pocketbase",
  ...apps.flatMap((app) => (app.worker ? [app.name, `${app.name}-worker`] : [app.name])),
];
const prefix = prefixer(names);
const running: Managed[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say("stopping services and workers (draining in-flight work)");
    const pocketbase = running.filter((m) => m.name === "pocketbase");
    await stopAll(running.filter((m) => m.name !== "pocketbase"));
    await stopAll(pocketbase);
    await sandbox?.stop();
    say("stopped");
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
// Whatever fails while starting, nothing this command started is left running.
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (error: unknown) => {
    process.stderr.write(
      `\x1b[1;31merror:\x1b[0m ${error instanceof Error ? error.message : String(error)}\n`,
    );
    void shutdown(1);
  });
}
process.on("SIGTERM", () => void shutdown(0));

// PocketBase: migrations, operator superuser, then serve.
const pbDir = join(DATA_DIR, "pb_data");
const pbFlags = ["--dir", pbDir, "--migrationsDir", PB_MIGRATIONS];
// A new data directory is a new platform: what an earlier one left in Redis (its keys, counters, queued jobs)
// belongs to a PocketBase that is gone, and its API keys would still pass the router. Only a Redis on this
// machine is cleared; a remote one (REDIS_URL) may be another deployment's, so that is left to the user.
if (!existsSync(pbDir)) {
  if (["127.0.0.1", "localhost", "[::1]"].includes(new URL(redisUrl).hostname)) {
    const cleared = await clearPlatformState(redisUrl);
    if (cleared > 0)
      say(`new data directory: cleared ${cleared} keys an earlier platform left in ${redisUrl}`);
  } else
    say(
      `new data directory with a remote Redis (${redisUrl}): keys an earlier platform left there (cf:*) are kept; delete them to start from scratch`,
    );
}
say(`applying PocketBase migrations (data in ${pbDir})`);
await runOnce([PB_BIN, "migrate", "up", ...pbFlags], "PocketBase migrations failed");
await runOnce(
  [
    PB_BIN,
    "superuser",
    "upsert",
    ...pbFlags,
    // `--`: a password starting with "-" must not be read as a flag.
    "--",
    secrets.POCKETBASE_ADMIN_EMAIL ?? "",
    secrets.POCKETBASE_ADMIN_PASSWORD ?? "",
  ],
  "could not create the PocketBase operator superuser",
);
say(`starting PocketBase on ${pbUrl}`);
running.push(
  spawnManaged("pocketbase", [PB_BIN, "serve", "--http", `127.0.0.1:${pbPort}`, ...pbFlags], {
    cwd: ROOT,
    env: process.env,
    prefix,
  }),
);
if (!(await waitForHttp(`${pbUrl}/api/health`, 30_000))) {
  process.stderr.write("PocketBase did not become healthy within 30 s (see its log lines above).\n");
  await shutdown(1);
}

if (sandboxEnabled) {
  sandbox = await startOpenAIEmulator({ port: sandboxPort, record: false });
  say(`started the SANDBOX provider on ${sandbox.url}: an OpenAI emulator that echoes, not a real LLM`);
}

say("seeding plans, model catalog and the demo tenant (idempotent)");
const seeded = await seed({
  pocketbaseUrl: pbUrl,
  adminEmail: secrets.POCKETBASE_ADMIN_EMAIL ?? "",
  adminPassword: secrets.POCKETBASE_ADMIN_PASSWORD ?? "",
  redisUrl,
  demoKey: process.env.DEMO_API_KEY ?? secrets.DEMO_API_KEY,
  ...(sandbox
    ? {
        sandbox: {
          baseUrl: `${sandbox.url}/v1`,
          apiKey: sandbox.apiKey,
          masterKey: secrets.MASTER_KEY ?? "",
        },
      }
    : {}),
  log: (line) => say(`  ${line}`),
});
saveDevSecrets({ ...loadDevSecrets(), DEMO_API_KEY: seeded.demoKey });

const authUrl = `http://127.0.0.1:${apps.find((app) => app.name === "auth")?.port ?? 4100}`;
const serviceEnv = {
  ...process.env,
  NODE_ENV: process.env.NODE_ENV ?? "development",
  REDIS_URL: redisUrl,
  POCKETBASE_URL: pbUrl,
  POCKETBASE_ADMIN_EMAIL: secrets.POCKETBASE_ADMIN_EMAIL,
  POCKETBASE_ADMIN_PASSWORD: secrets.POCKETBASE_ADMIN_PASSWORD,
  MASTER_KEY: secrets.MASTER_KEY,
  PLATFORM_DOMAIN: domain,
  HOST: "127.0.0.1",
  INTERNAL_TOKEN: process.env.INTERNAL_TOKEN ?? secrets.INTERNAL_TOKEN,
  AUTH_INTERNAL_URL: authUrl,
  // Billing accepts auth's access tokens (a signed-up user's) besides API keys, and the operator token.
  JWKS_URL: process.env.JWKS_URL ?? `${authUrl}/.well-known/jwks.json`,
  OPERATOR_TOKEN: process.env.OPERATOR_TOKEN ?? secrets.OPERATOR_TOKEN,
};
const bun = process.execPath;
for (const app of apps) {
  say(`starting ${app.name} on :${app.port}${app.worker ? ` and ${app.name}-worker` : ""}`);
  running.push(
    spawnManaged(app.name, [bun, "src/server.ts"], {
      cwd: app.dir,
      env: { ...serviceEnv, PORT: String(app.port) },
      prefix,
    }),
  );
  if (app.worker) {
    running.push(
      spawnManaged(`${app.name}-worker`, [bun, "src/worker.ts"], { cwd: app.dir, env: serviceEnv, prefix }),
    );
  }
}
for (const managed of running) {
  void managed.proc.exited.then((code) => {
    if (stopping) return;
    process.stderr.write(`\x1b[1;31m${managed.name} exited with code ${code}; stopping everything.\x1b[0m\n`);
    void shutdown(1);
  });
}

const readiness = await Promise.all(
  apps.map(async (app) => ({ app, ready: await waitForHttp(`http://127.0.0.1:${app.port}/ready`, 30_000) })),
);
const notReady = readiness.filter((r) => !r.ready).map((r) => r.app.name);
if (notReady.length > 0) {
  process.stderr.write(`not ready after 30 s: ${notReady.join(", ")} (see their log lines above)\n`);
  await shutdown(1);
}

const rows = [
  ...apps.map((app) => [
    app.name,
    `http://127.0.0.1:${app.port}`,
    `${app.subdomain}.${domain} in production`,
  ]),
  ["pocketbase", `${pbUrl}/_/`, `superuser ${secrets.POCKETBASE_ADMIN_EMAIL} (password in .data/dev.env)`],
  ["redis", redisUrl, ""],
];
const width = Math.max(...rows.map((r) => (r[0] ?? "").length));
process.stdout.write(
  [
    "",
    "\x1b[1;32mCloudFreedom AI Router is up.\x1b[0m",
    ...rows.map(
      ([name, url, note]) =>
        `  ${(name ?? "").padEnd(width)}  ${url}${note ? `  \x1b[90m${note}\x1b[0m` : ""}`,
    ),
    "",
    `  demo tenant   ${seeded.tenantSlug}  (plan ${seeded.planSlug})`,
    `  demo API key  ${seeded.demoKey}`,
    "",
    ...(sandbox
      ? [
          "  Try the gateway (the `sandbox` model is an echo emulator, not a real LLM; set OPENAI_API_KEY,",
          "  ANTHROPIC_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY, AZURE_OPENAI_API_KEY + AZURE_OPENAI_BASE_URL",
          "  or OLLAMA_BASE_URL before starting to use real providers):",
          `    curl http://127.0.0.1:${apps[0]?.port ?? 4000}/v1/chat/completions -H "Authorization: Bearer ${seeded.demoKey}" \\`,
          `      -d '{"model":"sandbox","messages":[{"role":"user","content":"Hello gateway"}]}'`,
        ]
      : []),
    "  Billing also takes auth's access tokens, and the operator token (OPERATOR_TOKEN in .data/dev.env)",
    "  for plans and any tenant's budgets.",
    "  Every service answers /health and /ready, e.g.",
    `    curl http://127.0.0.1:${apps[0]?.port ?? 4000}/ready`,
    "  Press Ctrl-C to stop everything.",
    "",
  ].join("\n"),
);

async function runOnce(cmd: string[], failure: string): Promise<void> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) die(`${failure}:\n${out}${err}`);
}

function pick(source: Record<string, string | undefined>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.flatMap((key) => (source[key] ? [[key, source[key] as string]] : [])));
}
