import type { Db } from "@cloudfreedom/db";
import type { Logger } from "@cloudfreedom/service-kit";
import type { Redis } from "ioredis";
import type { AuthEnv } from "./env.ts";
import type { SigningKeyStore } from "./services/tokens/signing-keys.ts";

/** Everything a request needs, built once per process in app.ts and passed to handlers and services. */
export interface AuthDeps {
  env: AuthEnv;
  logger: Logger;
  db: Db;
  redis: Redis;
  signing: SigningKeyStore;
  /** `iss` of the access tokens this service signs and accepts. */
  issuer: string;
}

/** Who made a request, for audit rows and rate limits. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
}
