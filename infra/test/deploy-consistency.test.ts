import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// Keeps the deployment files (docker/, infra/traefik/, .gitlab-ci.yml) in step with apps/*/package.json,
// whose `cloudfreedom` field is the source of truth for port, subdomain and worker. No Docker needed.

const root = fileURLToPath(new URL("../..", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const obj = (value: unknown): Obj => (isObj(value) ? value : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown): string =>
  Array.isArray(value) ? value.map(String).join(" ") : value == null ? "" : String(value);

/** Parses YAML strictly (a syntax error or duplicate key throws), resolving anchors and `<<` merges. */
const yamlFile = (path: string): Obj =>
  obj(parse(read(path), { merge: true, strict: true, prettyErrors: true }));

type App = { name: string; port: number; subdomain: string; worker: boolean };

function readApps(): App[] {
  return readdirSync(join(root, "apps"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, "apps", entry.name, "package.json")))
    .map((entry) => {
      const manifest = JSON.parse(read(`apps/${entry.name}/package.json`)) as Obj;
      const { port, subdomain, worker } = obj(manifest.cloudfreedom);
      if (typeof port !== "number" || typeof subdomain !== "string" || typeof worker !== "boolean") {
        throw new Error(`apps/${entry.name}/package.json: "cloudfreedom" needs {port, subdomain, worker}`);
      }
      return { name: entry.name, port, subdomain, worker };
    });
}

const apps = readApps();
const appNames = new Set(apps.map((app) => app.name));
const compose = yamlFile("docker/compose.yml");
const services = obj(compose.services);
const traefikStatic = yamlFile("infra/traefik/traefik.yml");
const dynamic = obj(yamlFile("infra/traefik/dynamic.yml").http);
const routers = Object.entries(obj(dynamic.routers)).map(([name, router]): Obj & { name: string } => ({
  ...obj(router),
  name,
}));
const ci = yamlFile(".gitlab-ci.yml");

/** Compose accepts `KEY: value` maps and `KEY=value` lists (environment, build args). */
function keyValues(value: unknown): Record<string, string> {
  if (Array.isArray(value)) {
    return Object.fromEntries(value.map((line) => String(line).split(/=(.*)/s).slice(0, 2)));
  }
  return Object.fromEntries(Object.entries(obj(value)).map(([key, entry]) => [key, text(entry)]));
}
const envOf = (service: Obj) => keyValues(service.environment);
const buildArgsOf = (service: Obj) => keyValues(obj(service.build).args);

/** host and port of a Traefik service's upstream, e.g. http://billing:4200 → billing, 4200. */
function upstreamOf(serviceName: unknown): { host: string; port: number } | undefined {
  const url = text(obj(list(obj(obj(obj(dynamic.services)[text(serviceName)]).loadBalancer).servers)[0]).url);
  if (!url) return undefined;
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

/** Subdomains a rule names in Host(`<sub>.{{ env "PLATFORM_DOMAIN" }}`). */
const hostSubdomains = (rule: unknown) =>
  [...text(rule).matchAll(/Host\(`([a-z0-9-]+)\.\{\{ env "PLATFORM_DOMAIN" \}\}`\)/g)].map((m) => m[1]);

/** GitLab `extends`: parents first, hashes merged deeply, everything else replaced. */
function resolveJob(name: string): Obj {
  const job = obj(ci[name]);
  const parents = typeof job.extends === "string" ? [job.extends] : list(job.extends).map(String);
  return [...parents.map(resolveJob), job].reduce<Obj>(deepMerge, {});
}
function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isObj(out[key]) && isObj(value) ? deepMerge(obj(out[key]), value) : value;
  }
  return out;
}

const dockerArg = (dockerfile: string, name: string) =>
  read(dockerfile).match(new RegExp(`^ARG ${name}=(\\S+)`, "m"))?.[1];

describe("apps/*/package.json", () => {
  it("declares at least the five services, with distinct ports and subdomains", () => {
    expect(apps.map((app) => app.name)).toEqual(
      expect.arrayContaining(["router", "auth", "billing", "traces", "analytics"]),
    );
    expect(new Set(apps.map((app) => app.port)).size).toBe(apps.length);
    expect(new Set(apps.map((app) => app.subdomain)).size).toBe(apps.length);
  });
});

describe.each(apps)("app $name (port $port, subdomain $subdomain)", (app) => {
  it("has a compose service building its image, on its port, health-checked on that port's /health", () => {
    const service = obj(services[app.name]);
    expect(services[app.name], `docker/compose.yml has no service "${app.name}"`).toBeDefined();
    expect(obj(service.build).dockerfile).toBe("docker/Dockerfile");
    expect(buildArgsOf(service).APP, "build arg APP").toBe(app.name);
    expect(envOf(service).PORT, "environment PORT").toBe(String(app.port));
    expect(envOf(service).ENTRY ?? "server").toBe("server");
    expect(text(obj(service.healthcheck).test), "healthcheck").toMatch(
      new RegExp(`http://(127\\.0\\.0\\.1|localhost):${app.port}/health(\\s|$)`),
    );
    for (const dependency of ["redis", "pocketbase"]) {
      expect(obj(obj(service.depends_on)[dependency]).condition).toBe("service_healthy");
    }
  });

  it(app.worker ? "has a <app>-worker service running the worker entry" : "has no worker service", () => {
    const worker = services[`${app.name}-worker`];
    if (!app.worker) {
      expect(worker, `${app.name} has worker: false but compose runs ${app.name}-worker`).toBeUndefined();
      return;
    }
    const service = obj(worker);
    expect(worker, `docker/compose.yml has no service "${app.name}-worker"`).toBeDefined();
    expect(buildArgsOf(service).APP).toBe(app.name);
    expect(service.image).toBe(obj(services[app.name]).image);
    const runsWorker =
      envOf(service).ENTRY === "worker" || text(service.command).includes(`apps/${app.name}/src/worker.ts`);
    expect(runsWorker, "the worker service must set ENTRY=worker (or run src/worker.ts)").toBe(true);
    const healthcheck = text(obj(service.healthcheck).test);
    expect(healthcheck, "a worker needs a healthcheck").not.toBe("");
    expect(healthcheck, "workers serve no HTTP; their healthcheck must not call one").not.toMatch(
      /https?:\/\//,
    );
  });

  it("has a Traefik router for its subdomain whose service points at its compose service and port", () => {
    const matching = routers.filter((router) => hostSubdomains(router.rule).includes(app.subdomain));
    expect(matching.length, `no router in dynamic.yml has Host(\`${app.subdomain}.…\`)`).toBeGreaterThan(0);
    for (const router of matching) {
      expect(upstreamOf(router.service)).toEqual({ host: app.name, port: app.port });
    }
  });

  it("has a CI job building and pushing its image when it or a package changes", () => {
    const job = resolveJob(`build:${app.name}`);
    expect(ci[`build:${app.name}`], `.gitlab-ci.yml has no job "build:${app.name}"`).toBeDefined();
    expect(obj(job.variables).APP).toBe(app.name);
    expect(obj(job.variables).DOCKERFILE).toBe("docker/Dockerfile");
    expect(text(job.script)).toMatch(/docker buildx build[\s\S]*--push/);
    const changes = list(job.rules).flatMap((rule) => {
      const value = obj(rule).changes;
      return list(isObj(value) ? value.paths : value).map((path) => text(path).replace("$APP", app.name));
    });
    expect(changes).toEqual(expect.arrayContaining([`apps/${app.name}/**/*`, "packages/**/*"]));
  });
});

describe("the router app", () => {
  it("also takes every other <tenant>.<domain>, below every named subdomain", () => {
    const router = apps.find((app) => app.name === "router");
    const catchAll = routers.find((r) => text(r.rule).includes("HostRegexp("));
    expect(router).toBeDefined();
    expect(catchAll, "dynamic.yml needs a HostRegexp catch-all router for tenants").toBeDefined();
    expect(upstreamOf(catchAll?.service)).toEqual({ host: "router", port: router?.port });
    expect(typeof catchAll?.priority, "the catch-all needs an explicit (low) priority").toBe("number");
    for (const other of routers.filter((r) => r !== catchAll)) {
      // Traefik's default priority is the rule's length; count each template as one character (worst case).
      const priority = Number(other.priority ?? text(other.rule).replace(/\{\{.*?\}\}/g, "x").length);
      expect(priority, `router "${other.name}" must outrank the tenant catch-all`).toBeGreaterThan(
        Number(catchAll?.priority),
      );
    }
  });
});

describe("docker/compose.yml", () => {
  it("runs Redis with append-only persistence on a volume", () => {
    const redis = obj(services.redis);
    expect(text(redis.command)).toMatch(/--appendonly yes/);
    expect(
      list(redis.volumes)
        .map(text)
        .some((volume) => volume.endsWith(":/data")),
    ).toBe(true);
  });

  it("runs PocketBase from its Dockerfile with a named volume on /pb_data and an /api/health check", () => {
    const pocketbase = obj(services.pocketbase);
    expect(obj(pocketbase.build).dockerfile).toBe("docker/Dockerfile.pocketbase");
    const volume = list(pocketbase.volumes)
      .map(text)
      .find((entry) => entry.endsWith(":/pb_data"));
    expect(Object.keys(obj(compose.volumes))).toContain(volume?.split(":")[0]);
    expect(text(obj(pocketbase.healthcheck).test)).toMatch(/:8090\/api\/health/);
  });

  it("defines no service for an app that does not exist", () => {
    const expected = new Set(["traefik", "redis", "pocketbase"]);
    for (const app of apps) {
      expected.add(app.name);
      if (app.worker) expected.add(`${app.name}-worker`);
    }
    expect(Object.keys(services).filter((name) => !expected.has(name))).toEqual([]);
    for (const service of Object.values(services)) {
      const app = buildArgsOf(obj(service)).APP;
      if (app !== undefined) expect(appNames).toContain(app);
    }
  });

  it("mounts infra/traefik where traefik.yml expects dynamic.yml and passes every env var the configs use", () => {
    const traefik = obj(services.traefik);
    expect(list(traefik.volumes).map(text)).toContain("../infra/traefik:/etc/traefik:ro");
    expect(obj(obj(traefikStatic.providers).file).filename).toBe("/etc/traefik/dynamic.yml");
    const used = [...read("infra/traefik/dynamic.yml").matchAll(/env "([A-Z0-9_]+)"/g)].map((m) => m[1]);
    expect(Object.keys(envOf(traefik))).toEqual(expect.arrayContaining([...new Set(used), "ACME_EMAIL"]));
  });

  it("uses the healthcheck script the app image installs", () => {
    const script = "/usr/local/lib/cloudfreedom/healthcheck.mjs";
    expect(read("docker/Dockerfile")).toContain(script);
    for (const name of Object.keys(services).filter((n) => buildArgsOf(obj(services[n])).APP)) {
      expect(text(obj(obj(services[name]).healthcheck).test), name).toContain(script);
    }
  });
});

describe("infra/traefik", () => {
  it("has web and websecure entry points and an ACME resolver whose email comes from the environment", () => {
    expect(Object.keys(obj(traefikStatic.entryPoints))).toEqual(expect.arrayContaining(["web", "websecure"]));
    const resolvers = obj(traefikStatic.certificatesResolvers);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal placeholder docker/compose.yml fills in
    const placeholder = "${ACME_EMAIL}";
    expect(Object.values(resolvers).map((r) => obj(obj(r).acme).email)).toContain(placeholder);
    for (const router of routers) {
      expect(Object.keys(resolvers), `router "${router.name}"`).toContain(obj(router.tls).certResolver);
    }
  });

  it("routes only to services, middlewares and subdomains that exist", () => {
    const subdomains = new Set([...apps.map((app) => app.subdomain), "pb"]);
    const hosts = new Set([...appNames, "pocketbase"]);
    for (const router of routers) {
      expect(obj(dynamic.services), `router "${router.name}"`).toHaveProperty(text(router.service));
      for (const middleware of list(router.middlewares)) {
        expect(obj(dynamic.middlewares), `router "${router.name}"`).toHaveProperty(text(middleware));
      }
      for (const sub of hostSubdomains(router.rule)) {
        expect(subdomains, `router "${router.name}": no app serves ${sub}.<domain>`).toContain(sub);
      }
    }
    for (const name of Object.keys(obj(dynamic.services))) {
      const upstream = upstreamOf(name);
      expect(hosts, `Traefik service "${name}" points at ${upstream?.host}`).toContain(upstream?.host);
      const app = apps.find((a) => a.name === upstream?.host);
      expect(upstream?.port, `Traefik service "${name}"`).toBe(app ? app.port : 8090);
    }
  });

  it("keeps pb.<domain> (PocketBase) to operators behind an IP allowlist", () => {
    const pb = routers.find((router) => hostSubdomains(router.rule).includes("pb"));
    expect(upstreamOf(pb?.service)).toEqual({ host: "pocketbase", port: 8090 });
    const guards = list(pb?.middlewares).map((name) => obj(obj(dynamic.middlewares)[text(name)]));
    expect(guards.some((middleware) => middleware.ipAllowList !== undefined)).toBe(true);
  });
});

describe(".gitlab-ci.yml", () => {
  it("runs install, lint, typecheck, test and build in that order", () => {
    expect(ci.stages).toEqual(["install", "lint", "typecheck", "test", "build"]);
  });

  it("tests with the README's command against a Redis service", () => {
    const test = resolveJob("test");
    expect(list(test.script).map(text)).toContain("bash scripts/test");
    expect(list(test.services).map((s) => text(isObj(s) ? s.name : s))).toContain("redis:7");
  });

  it("builds images only for apps that exist", () => {
    for (const name of Object.keys(ci).filter((key) => key.startsWith("build:"))) {
      const app = obj(resolveJob(name).variables).APP;
      if (app !== undefined) expect(appNames, name).toContain(app);
    }
  });
});

describe("pinned tool versions", () => {
  const lock = yamlFile("pnpm-lock.yaml");
  const rootDev = obj(obj(obj(lock.importers)["."]).devDependencies);
  const locked = (name: string) => text(obj(rootDev[name]).version).split("(")[0];
  const pnpm = text(JSON.parse(read("package.json")).packageManager).replace(/^pnpm@/, "");
  const goDirective = read("infra/pocketbase/go.mod").match(/^go (\d+\.\d+)/m)?.[1];

  it("match the lockfile, packageManager and go.mod", () => {
    expect(dockerArg("docker/Dockerfile", "PNPM_VERSION")).toBe(pnpm);
    expect(obj(ci.variables).PNPM_VERSION).toBe(pnpm);
    expect(dockerArg("docker/Dockerfile", "BUN_VERSION")).toBe(locked("bun"));
    expect(dockerArg("docker/Dockerfile", "TURBO_VERSION")).toBe(locked("turbo"));
    expect(goDirective).toBeDefined();
    expect(dockerArg("docker/Dockerfile.pocketbase", "GO_VERSION")).toBe(goDirective);
    expect(text(obj(ci.variables).GO_VERSION).startsWith(`${goDirective}.`)).toBe(true);
  });
});
