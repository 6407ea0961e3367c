import type { Redis, Result } from "ioredis";
import { ADMIT_LUA } from "./scripts/admit.ts";
import { REAP_LUA, RENEW_LUA, SEED_LUA, SETTLE_LUA } from "./scripts/settle.ts";

type Arg = string | number;

declare module "ioredis" {
  interface RedisCommander<Context> {
    cfAdmissionAdmit(...keysThenArgs: Arg[]): Result<unknown, Context>;
    cfAdmissionSettle(...keysThenArgs: Arg[]): Result<unknown, Context>;
    cfAdmissionReap(...keysThenArgs: Arg[]): Result<unknown, Context>;
    cfAdmissionSeed(...keysThenArgs: Arg[]): Result<unknown, Context>;
    cfAdmissionRenew(...keysThenArgs: Arg[]): Result<unknown, Context>;
  }
}

const defined = new WeakSet<Redis>();

/**
 * Registers the scripts on a connection (ioredis `defineCommand`: EVALSHA, with one EVAL to load the script
 * when Redis answers NOSCRIPT, e.g. after a restart). Idempotent per connection.
 */
export function defineAdmissionCommands(redis: Redis): Redis {
  if (defined.has(redis)) return redis;
  // Its first argument is the number of keys: a batch names as many key limiters as it has keys.
  redis.defineCommand("cfAdmissionAdmit", { lua: ADMIT_LUA });
  redis.defineCommand("cfAdmissionSettle", { numberOfKeys: 1, lua: SETTLE_LUA });
  redis.defineCommand("cfAdmissionReap", { numberOfKeys: 1, lua: REAP_LUA });
  redis.defineCommand("cfAdmissionSeed", { numberOfKeys: 1, lua: SEED_LUA });
  redis.defineCommand("cfAdmissionRenew", { numberOfKeys: 1, lua: RENEW_LUA });
  defined.add(redis);
  return redis;
}
