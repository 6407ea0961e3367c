/**
 * Lua shared by the admission scripts. Amounts arrive as integer strings and are written back with `%d`:
 * Redis would format a Lua number with `%.17g`, which turns large amounts into exponent notation.
 *
 * A call's counters are read with one HMGET and written with one HSET of the period hash (the script is
 * atomic, so read-modify-write is safe), which keeps every script to a handful of Redis calls.
 *
 * Rate windows are sliding-window counters: fixed one-minute windows, with the previous window's count
 * weighted by how much of it still overlaps the last 60 s. O(1) state per limiter, works for tokens as for
 * requests, and a burst at a window edge cannot double the limit (unlike plain fixed windows).
 */
export const LUA_COMMON = `
local WINDOW = 60000

local function int(n)
  return string.format('%d', n)
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function scope_field(kind, scope, id)
  if scope == 'tenant' then return kind .. ':tenant' end
  return kind .. ':' .. scope .. ':' .. id
end

-- A scope's field names in the period hash, made once per script run: a batch is mostly one key and user.
local TENANT_SCOPE = { spent = 'spent:tenant', rsv = 'rsv:tenant' }
local scope_names_cache = { user = {}, key = {} }
local function scope_names(scope, id)
  local cache = scope_names_cache[scope]
  local names = cache[id]
  if not names then
    names = { spent = scope_field('spent', scope, id), rsv = scope_field('rsv', scope, id) }
    cache[id] = names
  end
  return names
end

-- The period hash as far as one call is concerned: seeded?, queries, and spent/held per scope
-- (tenant always, user and key when known), in one HMGET.
local function read_period(period_key, user, key)
  local scopes = { { 'tenant', '' } }
  if user ~= '' then scopes[#scopes + 1] = { 'user', user } end
  if key ~= '' then scopes[#scopes + 1] = { 'key', key } end
  local fields = { 'seeded', 'queries' }
  for _, s in ipairs(scopes) do
    fields[#fields + 1] = scope_field('spent', s[1], s[2])
    fields[#fields + 1] = scope_field('rsv', s[1], s[2])
  end
  local values = redis.call('HMGET', period_key, unpack(fields))
  local p = { key = period_key, seeded = values[1] ~= false, queries = tonumber(values[2]) or 0, scopes = {} }
  for i, s in ipairs(scopes) do
    p.scopes[i] = { scope = s[1], id = s[2], spent = tonumber(values[2 * i + 1]) or 0, held = tonumber(values[2 * i + 2]) or 0 }
  end
  return p
end

local function write_period(p)
  local args = { 'queries', int(math.max(0, p.queries)) }
  for _, s in ipairs(p.scopes) do
    args[#args + 1] = scope_field('spent', s.scope, s.id)
    args[#args + 1] = int(s.spent)
    args[#args + 1] = scope_field('rsv', s.scope, s.id)
    args[#args + 1] = int(math.max(0, s.held))
  end
  redis.call('HSET', p.key, unpack(args))
end

-- Releases a reservation's hold in its period hash (nothing to release if that hash was lost).
local function release(period_key, amount, user, key, refund_query)
  local p = read_period(period_key, user, key)
  if not p.seeded then return end
  for _, s in ipairs(p.scopes) do s.held = s.held - amount end
  if refund_query then p.queries = p.queries - 1 end
  write_period(p)
end

-- A limiter hash rolled forward to the window of now (exists: whether the hash was there).
local function load_window(key, now)
  local h = redis.call('HMGET', key, 'w', 'rc', 'rp', 'tc', 'tp')
  local w = math.floor(now / WINDOW)
  local stored = tonumber(h[1])
  local s = { w = w, rc = tonumber(h[2]) or 0, rp = tonumber(h[3]) or 0, tc = tonumber(h[4]) or 0, tp = tonumber(h[5]) or 0, exists = stored ~= nil }
  if stored == w - 1 then
    s.rp, s.tp, s.rc, s.tc = s.rc, s.tc, 0, 0
  elseif stored ~= w then
    s.rc, s.rp, s.tc, s.tp = 0, 0, 0, 0
  end
  s.weight = (WINDOW - (now % WINDOW)) / WINDOW
  return s
end

-- A script's windows, each loaded once: cached_window(cache, key, now) returns the same state until saved.
local function cached_window(cache, key, now)
  local s = cache[key]
  if not s then
    s = load_window(key, now)
    cache[key] = s
  end
  return s
end

local function save_window(key, s)
  redis.call('HSET', key, 'w', int(s.w), 'rc', int(s.rc), 'rp', int(s.rp), 'tc', int(s.tc), 'tp', int(s.tp))
  redis.call('PEXPIRE', key, 2 * WINDOW + 1000)
end

-- ms until cost fits under limit again; -1 when it never can (the cost alone exceeds the limit).
local function wait_ms(cur, prev, now, cost, limit)
  if cost > limit then return -1 end
  local offset = now % WINDOW
  if cur + cost <= limit then
    if prev <= 0 then return 1 end
    local x = WINDOW * (1 - (limit - cost - cur) / prev)
    return math.max(1, math.ceil(x - offset))
  end
  local y = WINDOW * (1 - (limit - cost) / cur)
  return (WINDOW - offset) + math.max(1, math.ceil(y))
end

-- Settled reservation ids live in sets per time bucket (bucket width = retention) that expire whole:
-- an id is remembered for one to two retentions, at a few dozen bytes, with no reaping.
local function settled_keys(prefix, now, retention)
  local bucket = math.floor(now / retention)
  return prefix .. 'settled:' .. int(bucket), prefix .. 'settled:' .. int(bucket - 1)
end

-- A hold as the due set stores it: id|period|amount|tokens|window|user|key|limiters ('t' tenant, 'k' key).
local function parse_hold(member)
  local id, period, amount, tokens, window, user, key, limiters =
    string.match(member, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|?([^|]*)')
  return { id = id, period = period, amount = tonumber(amount), tokens = tonumber(tokens), window = tonumber(window), user = user, key = key, limiters = limiters or '' }
end

-- Releases up to max holds past their deadline (their query refunded: no usage will be recorded for them).
local function reap_due(due_key, prefix, now, max)
  local due = redis.call('ZRANGEBYSCORE', due_key, '-inf', now, 'LIMIT', 0, max)
  for _, member in ipairs(due) do
    local h = parse_hold(member)
    release(prefix .. 'budget:' .. h.period, h.amount, h.user, h.key, true)
    redis.call('ZREM', due_key, member)
  end
  return #due
end
`;
