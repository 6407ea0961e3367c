# Shared by scripts/start and scripts/test: make a fresh machine (Node 20, npm, Go) able to run the platform.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")"

step() { printf '\033[1;36m==>\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

ensure_node() {
  command -v node >/dev/null || fail "Node.js 20+ is required (https://nodejs.org or 'apt-get install nodejs')."
  # Vite 8 (under vitest) needs 20.19+ on the 20 line.
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || fail "Node.js 20.19+ is required; found $(node --version)."
}

ensure_pnpm() {
  if command -v pnpm >/dev/null && [ "$(pnpm --version)" = "$PNPM_VERSION" ]; then return; fi
  step "installing pnpm@$PNPM_VERSION with npm"
  npm install --global --silent "pnpm@$PNPM_VERSION" >/dev/null 2>&1 \
    || fail "could not install pnpm@$PNPM_VERSION with npm; install it yourself: npm i -g pnpm@$PNPM_VERSION"
}

install_deps() {
  step "installing dependencies (pnpm install --frozen-lockfile)"
  (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=silent) || fail "pnpm install failed (see above)."
}

build_pocketbase() {
  step "building PocketBase from infra/pocketbase (skipped when up to date)"
  bash "$ROOT/infra/pocketbase/build.sh" || fail "PocketBase build failed (see above)."
}

install_stripe_mock() {
  step "installing stripe-mock for the Stripe tests (go install, skipped when up to date)"
  bash "$ROOT/infra/stripe-mock/install.sh" || fail "stripe-mock install failed (see above)."
}

# Redis: REDIS_URL if set; else a Redis already on 127.0.0.1:6379; else start redis-server if installed.
# Exports REDIS_URL, and CF_REDIS_PIDFILE when this script started Redis (the caller stops it).
ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    redis_ping "$REDIS_URL" || fail "REDIS_URL=$REDIS_URL does not answer PING. Start that Redis or unset REDIS_URL."
    step "using Redis at $REDIS_URL (REDIS_URL)"
    return
  fi
  if redis_ping "redis://127.0.0.1:6379"; then
    export REDIS_URL="redis://127.0.0.1:6379"
    step "using the Redis already running on 127.0.0.1:6379"
    return
  fi
  if command -v redis-server >/dev/null; then
    mkdir -p "$ROOT/.data/redis"
    export CF_REDIS_PIDFILE="$ROOT/.data/redis/redis.pid"
    step "starting redis-server on 127.0.0.1:6379 (data in .data/redis)"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$ROOT/.data/redis" \
      --pidfile "$CF_REDIS_PIDFILE" --logfile "$ROOT/.data/redis/redis.log" --appendonly yes >/dev/null \
      || fail "redis-server failed to start; see .data/redis/redis.log"
    for _ in $(seq 1 50); do redis_ping "redis://127.0.0.1:6379" && break; sleep 0.1; done
    redis_ping "redis://127.0.0.1:6379" || fail "redis-server did not answer; see .data/redis/redis.log"
    export REDIS_URL="redis://127.0.0.1:6379"
    return
  fi
  fail "no Redis found. Set REDIS_URL, or start Redis on 127.0.0.1:6379, or install it: 'apt-get install redis-server' (Debian/Ubuntu), 'brew install redis' (macOS), or 'docker run -p 6379:6379 redis:7'."
}

stop_started_redis() {
  if [ -n "${CF_REDIS_PIDFILE:-}" ] && [ -f "$CF_REDIS_PIDFILE" ]; then
    kill "$(cat "$CF_REDIS_PIDFILE")" 2>/dev/null || true
  fi
}

# PING through ioredis, as the services connect (password, db index and rediss:// TLS included).
redis_ping() {
  timeout 5 "$ROOT/node_modules/bun/bin/bun.exe" "$ROOT/scripts/lib/redis-ping.ts" "$1" 2>/dev/null
}
