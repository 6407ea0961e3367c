import { createDb } from "@cloudfreedom/db";
import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { MiddlewareHandler } from "hono";
import type { AuthDeps } from "./deps.ts";
import type { AuthEnv } from "./env.ts";
import { requireInternal } from "./http/require-internal.ts";
import { requireUser } from "./http/require-user.ts";
import { buildOpenApi } from "./openapi/document.ts";
import type { Access } from "./openapi/route.ts";
import { ROUTES } from "./routes/index.ts";
import { SigningKeyStore } from "./services/tokens/signing-keys.ts";

export interface AuthService extends Service {
  deps: AuthDeps;
}

export async function buildAuthApp(runtime: Runtime<AuthEnv>): Promise<AuthService> {
  const { env, logger } = runtime;
  const db = createDb(runtime.db);
  const signing = new SigningKeyStore({
    db,
    redis: runtime.redis,
    masterKey: env.MASTER_KEY,
    logger,
    rotationMs: env.SIGNING_KEY_ROTATION_DAYS * 24 * 3600 * 1000,
    accessTtlMs: env.ACCESS_TOKEN_TTL_S * 1000,
    refreshMs: env.SIGNING_KEY_REFRESH_MS,
  });
  await signing.start();
  const deps: AuthDeps = {
    env,
    logger,
    db,
    redis: runtime.redis,
    signing,
    issuer: env.JWT_ISSUER ?? `https://auth.${env.PLATFORM_DOMAIN}`,
  };

  const service = createService({
    name: "auth",
    logger,
    readiness: runtimeReadiness(runtime),
    logRequests: env.LOG_REQUESTS,
    maxBodyBytes: 64 * 1024,
  });
  const guards: Record<Access, MiddlewareHandler[]> = {
    public: [],
    user: [requireUser(deps)],
    internal: [requireInternal(deps)],
  };
  for (const route of ROUTES) {
    service.app.on(route.method.toUpperCase(), [route.path], ...guards[route.access], (c) =>
      route.handle(c, deps),
    );
  }
  const openapi = buildOpenApi(ROUTES, {
    title: "CloudFreedom auth",
    version: "0.1.0",
    serverUrl: `https://auth.${env.PLATFORM_DOMAIN}`,
  });
  service.app.get("/openapi.json", (c) => c.json(openapi));
  service.onClose = async () => signing.stop();
  return { ...service, deps };
}
