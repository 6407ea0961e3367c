import { LUA_COMMON } from "./common.ts";

/**
 * Settlement of a batch of one tenant's calls, each idempotent by reservation id, decided in order as if each
 * ran alone, while every hash is read once and written once per batch. A call whose hold is still
 * in the due set has it released; every call adds its actual cost to each scope, moves its TPM window from the
 * estimate to the actual tokens and is remembered as settled (for the retention), so settling it again
 * changes nothing. A call without a hold (reaped, or never held: fail-open, usage reported through the billing
 * API) is charged, or ignored when the caller says so. The batch also reaps up to two due holds of the
 * tenant, so an active tenant's leaks are released even without the reaper job.
 *
 * KEYS: 1 the tenant's due set (every other key is derived from the prefix: same hash tag, same slot)
 * ARGV: 1 retention ms to remember the calls with, then (comma-separated) other retentions whose remembered ids
 *       count too (the router and the billing worker remember for different times; an id either settled is
 *       known to both), 2 key prefix, then per call 9 fields: reservation id, hold ('' = none known),
 *       billed micros, tokens, refundable ('1': an error that cost nothing gives its query back; '2': a
 *       prefetched hold no request used gives its query and its request in the rate windows back), user id,
 *       key id, period of the usage, 'charge' | 'ignore'
 * Returns one status per call: settled | charged | duplicate | unknown | unseeded:<period>
 */
export const SETTLE_LUA = `${LUA_COMMON}
local tonumber = tonumber
local ARGV = ARGV
local due_key = KEYS[1]
local retentions = {}
for r in string.gmatch(ARGV[1], '%d+') do retentions[#retentions + 1] = tonumber(r) end
local retention, prefix = retentions[1], ARGV[2]
local now = now_ms()
local window_now = math.floor(now / WINDOW)

local tenant_limiter, keyless_limiter = prefix .. 'rate:tenant', prefix .. 'rate:key:'

-- Pass 1: the calls, and what they will read. Everything below reads each hash once and writes it once.
local calls, holds, ids, period_fields = {}, {}, {}, {}
for i = 3, #ARGV, 9 do
  local c = { id = ARGV[i], hold = ARGV[i + 1], billed = tonumber(ARGV[i + 2]), tokens = tonumber(ARGV[i + 3]),
    refundable = ARGV[i + 4] ~= '0', unused = ARGV[i + 4] == '2', user = ARGV[i + 5], key = ARGV[i + 6], on_unknown = ARGV[i + 8] }
  c.held = c.hold ~= '' and parse_hold(c.hold) or nil
  c.period = c.held and c.held.period or ARGV[i + 7]
  local scopes = { TENANT_SCOPE }
  if c.user ~= '' then scopes[#scopes + 1] = scope_names('user', c.user) end
  c.key_limiter = keyless_limiter
  if c.key ~= '' then
    local names = scope_names('key', c.key)
    scopes[#scopes + 1] = names
    -- The key's limiter, made once per key like its field names.
    names.limiter = names.limiter or (prefix .. 'rate:key:' .. c.key)
    c.key_limiter = names.limiter
  end
  c.scopes = scopes
  local fields = period_fields[c.period]
  if not fields then
    fields = { list = { 'seeded', 'queries' }, seen = {} }
    period_fields[c.period] = fields
  end
  for _, scope in ipairs(scopes) do
    if not fields.seen[scope] then
      fields.seen[scope] = true
      fields.list[#fields.list + 1] = scope.spent
      fields.list[#fields.list + 1] = scope.rsv
    end
  end
  if c.held then holds[#holds + 1] = c.hold end
  ids[#ids + 1] = c.id
  calls[#calls + 1] = c
end
if #calls == 0 then return {} end

local periods = {}
for period, fields in pairs(period_fields) do
  local values = redis.call('HMGET', prefix .. 'budget:' .. period, unpack(fields.list))
  local state = { seeded = values[1] ~= false, dirty = {} }
  for i = 2, #fields.list do state[fields.list[i]] = tonumber(values[i]) or 0 end
  periods[period] = state
end
local open_holds = {}
if #holds > 0 then
  local scores = redis.call('ZMSCORE', due_key, unpack(holds))
  for i, hold in ipairs(holds) do
    if scores[i] then open_holds[hold] = true end
  end
end
local current_bucket = settled_keys(prefix, now, retention)
local known = {}
for _, r in ipairs(retentions) do
  local current, previous = settled_keys(prefix, now, r)
  for _, bucket in ipairs({ current, previous }) do
    local found = redis.call('SMISMEMBER', bucket, unpack(ids))
    for i, id in ipairs(ids) do
      if found[i] == 1 then known[id] = true end
    end
  end
end
local windows = {}
local function window(limiter_key) return cached_window(windows, limiter_key, now) end
-- Moves a request's tokens in its own window (from the held estimate to the actual count), in the cache.
local function adjust(limiter_key, window_id, delta, requests)
  if delta == 0 and requests == 0 then return end
  local s = window(limiter_key)
  if window_id == s.w then
    s.tc = math.max(0, s.tc + delta)
    s.rc = math.max(0, s.rc + requests)
  elseif window_id == s.w - 1 then
    s.tp = math.max(0, s.tp + delta)
    s.rp = math.max(0, s.rp + requests)
  else
    return
  end
  s.dirty, s.exists = true, true
end

-- Pass 2: each call in order, as if it ran alone.
local statuses, released_holds, settled_ids = {}, {}, {}
local function settle_one(c)
  local p = periods[c.period]
  if not p.seeded then return 'unseeded:' .. c.period end
  local released = c.held ~= nil and open_holds[c.hold] == true
  if released then
    open_holds[c.hold] = nil
    released_holds[#released_holds + 1] = c.hold
  else
    if known[c.id] then return 'duplicate' end
    if c.on_unknown == 'ignore' then return 'unknown' end
  end
  for _, scope in ipairs(c.scopes) do
    if released then p[scope.rsv] = p[scope.rsv] - c.held.amount end
    p[scope.spent] = p[scope.spent] + c.billed
    p.dirty[scope.rsv], p.dirty[scope.spent] = true, true
  end
  if released and c.refundable then p.queries = math.max(0, p.queries - 1) end
  if not released and not c.refundable then p.queries = p.queries + 1 end
  p.dirty.queries = true
  local key_limiter = c.key_limiter
  if released then
    local delta, requests = c.tokens - c.held.tokens, c.unused and -1 or 0
    if string.find(c.held.limiters, 't', 1, true) then adjust(tenant_limiter, c.held.window, delta, requests) end
    if string.find(c.held.limiters, 'k', 1, true) then adjust(key_limiter, c.held.window, delta, requests) end
  else
    if window(tenant_limiter).exists then adjust(tenant_limiter, window_now, c.tokens, 0) end
    if c.key ~= '' and window(key_limiter).exists then adjust(key_limiter, window_now, c.tokens, 0) end
  end
  known[c.id] = true
  settled_ids[#settled_ids + 1] = c.id
  return released and 'settled' or 'charged'
end
for i, c in ipairs(calls) do statuses[i] = settle_one(c) end

for period, p in pairs(periods) do
  local writes = {}
  for field in pairs(p.dirty) do
    writes[#writes + 1] = field
    writes[#writes + 1] = int(math.max(0, p[field]))
  end
  if #writes > 0 then redis.call('HSET', prefix .. 'budget:' .. period, unpack(writes)) end
end
for limiter_key, s in pairs(windows) do
  if s.dirty then save_window(limiter_key, s) end
end
if #released_holds > 0 then redis.call('ZREM', due_key, unpack(released_holds)) end
if #settled_ids > 0 then
  redis.call('SADD', current_bucket, unpack(settled_ids))
  redis.call('PEXPIRE', current_bucket, 2 * retention + 1000)
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

/**
 * Moves open holds' deadlines to now + ARGV[1] ms (Redis' clock, as the admit script sets them), so a call
 * still running when its hold would expire is not reaped under it. `XX`: a hold already settled or reaped is
 * not brought back.
 * KEYS: 1 due set. ARGV: 1 lifetime ms, then the holds. Returns how many were renewed.
 */
export const RENEW_LUA = `${LUA_COMMON}
local deadline = now_ms() + tonumber(ARGV[1])
local args = {}
for i = 2, #ARGV do
  args[#args + 1] = deadline
  args[#args + 1] = ARGV[i]
end
if #args == 0 then return 0 end
return redis.call('ZADD', KEYS[1], 'XX', 'CH', unpack(args))
`;
