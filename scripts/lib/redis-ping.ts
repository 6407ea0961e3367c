// PING a Redis URL the way the services connect (ioredis: AUTH, db index, rediss:// TLS). Exit 0 on PONG.
import { closeRedis, createRedis } from "@cloudfreedom/queue";

const url = process.argv[2] ?? "redis://127.0.0.1:6379";
const redis = createRedis({
  url,
  purpose: "request",
  lazyConnect: true,
  connectTimeoutMs: 1_500,
  requestMaxRetries: 0,
});
try {
  await redis.connect();
  process.exit((await redis.ping()) === "PONG" ? 0 : 1);
} catch {
  process.exit(1);
} finally {
  await closeRedis(redis, 200);
}
