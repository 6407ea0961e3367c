import { LUA_COMMON } from "./common.ts";

/**
 * Settlement of a batch of one tenant's calls, each idempotent by reservation id. A call whose hold is still
 * in the due set has it released; every call adds its actual cost to each scope, moves its TPM window from the
 * estimate to the actual tokens and is remembered as settled (for the retention), so settling it again
 * changes nothing. A call without a hold (reaped, or never held: fail-open, usage reported through the billing
 * API) is charged, or ignored when the caller says so. The batch also reaps up to two due holds of the
 * tenant, so an active tenant's leaks are released even without the reaper job.
 *
 * KEYS: 1 the tenant's due set (every other key is derived from the prefix: same hash tag, same slot)
 * ARGV: 1 retention ms, 2 key prefix, then per call 9 fields: reservation id, hold ('' = none known),
 *       billed micros, tokens, refundable ('1': an error that cost nothing gives its query back), user id,
 *       key id, period of the usage, 'charge' | 'ignore'
 * Returns one status per call: settled | charged | duplicate | unknown | unseeded:<period>
 */
export const SETTLE_LUA = `${LUA_COMMON}
local due_key = KEYS[1]
local retention, prefix = tonumber(ARGV[1]), ARGV[2]
local now = now_ms()
local window_now = math.floor(now / WINDOW)
local statuses = {}

local function settle_one(id, hold, billed, tokens, refundable, user, key, period, on_unknown)
  local held = hold ~= '' and parse_hold(hold) or nil
  local p = read_period(prefix .. 'budget:' .. (held and held.period or period), user, key)
  if not p.seeded then return 'unseeded:' .. (held and held.period or period) end
  local released = held ~= nil and redis.call('ZREM', due_key, hold) == 1
  if not released then
    if is_settled(prefix, now, retention, id) then return 'duplicate' end
    if on_unknown == 'ignore' then return 'unknown' end
  end
  for _, s in ipairs(p.scopes) do
    if released then s.held = s.held - held.amount end
    s.spent = s.spent + billed
  end
  if released and refundable then p.queries = p.queries - 1 end
  if not released and not refundable then p.queries = p.queries + 1 end
  write_period(p)
  if released then
    local delta = tokens - held.tokens
    if string.find(held.limiters, 't', 1, true) then adjust_tokens(prefix .. 'rate:tenant', now, held.window, delta) end
    if string.find(held.limiters, 'k', 1, true) then adjust_tokens(prefix .. 'rate:key:' .. key, now, held.window, delta) end
  else
    local tenant_limiter, key_limiter = prefix .. 'rate:tenant', prefix .. 'rate:key:' .. key
    if redis.call('EXISTS', tenant_limiter) == 1 then adjust_tokens(tenant_limiter, now, window_now, tokens) end
    if key ~= '' and redis.call('EXISTS', key_limiter) == 1 then adjust_tokens(key_limiter, now, window_now, tokens) end
  end
  mark_settled(prefix, now, retention, id)
  return released and 'settled' or 'charged'
end

for i = 3, #ARGV, 9 do
  statuses[#statuses + 1] = settle_one(ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]),
    ARGV[i + 4] == '1', ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8])
end
reap_due(due_key, prefix, now, 2)
return statuses
`;

/**
 * The reaper: releases up to ARGV[2] holds of one tenant whose deadline passed.
 * KEYS: 1 due set. ARGV: 1 key prefix, 2 max entries. Returns {reaped, still due}.
 */
export const REAP_LUA = `${LUA_COMMON}
local now = now_ms()
local reaped = reap_due(KEYS[1], ARGV[1], now, tonumber(ARGV[2]))
return { reaped, redis.call('ZCOUNT', KEYS[1], '-inf', now) }
`;

/**
 * Writes a period's rebuilt counters unless someone already did (the `seeded` marker is the commit point),
 * and lets the hash expire some time after the period ends.
 * KEYS: 1 period hash. ARGV: 1 expire-at ms, then field, value pairs. Returns 1 when written, 0 when seeded.
 */
export const SEED_LUA = `${LUA_COMMON}
local period_key = KEYS[1]
if redis.call('HEXISTS', period_key, 'seeded') == 1 then return 0 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', period_key, ARGV[i], ARGV[i + 1])
end
redis.call('HSET', period_key, 'seeded', int(now_ms()))
redis.call('PEXPIREAT', period_key, ARGV[1])
return 1
`;
