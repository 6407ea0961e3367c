import { LUA_COMMON } from "./common.ts";

/** Fields per request in the admit script's ARGV, after its three header fields. */
export const ADMIT_FIELDS = 16;

/**
 * Admission of a batch of one tenant's requests in one period, atomically and in order: for each, budgets
 * (tenant, user, key: spent + held + this request ≤ limit), the monthly query limit, then RPM/TPM per key
 * and per tenant; if everything fits, hold the request's maximum cost and tokens. Each request is decided
 * against the counters as the requests before it left them, exactly as if each had run alone, but the
 * counters are read once and written once per batch: a router under load admits its concurrent requests of a
 * tenant with one script run instead of one each. Denials are checked from the most lasting to the most
 * transient, so a client is told the reason that will still hold after a retry.
 *
 * KEYS: 1 period hash, 2 due set, 3 tenant limiter, 4… the key limiters the requests refer to
 * ARGV: 1 ttl ms, 2 period id, 3 request count, then per request ADMIT_FIELDS fields: reservation id,
 *       amount, tokens, user id ('' = none), key id, index of its key limiter in KEYS, tenant budget,
 *       user budget, key budget, query limit, tenant rpm, tenant tpm, key rpm, key tpm (limits: -1 =
 *       unlimited), dry run ('1' = decide only, write nothing), room ('16': admit only if every limit
 *       would still fit 16 such requests, a hold taken ahead; '1' for a request)
 * Returns one reply per request: {'unseeded'} | {'budget', scope, limit, spent, reserved}
 *       | {'queries', limit, used} | {'rate', scope, 'requests'|'tokens', limit, wait ms}
 *       | {'ok', limit req, remaining req, limit tokens, remaining tokens, remaining budget, hold,
 *          remaining queries}
 *       (-1 = no such limit; hold: the due-set member that settlement removes, '' on a dry run)
 */
export const ADMIT_LUA = `${LUA_COMMON}
local tonumber = tonumber
local KEYS, ARGV = KEYS, ARGV
local period_key, due_key = KEYS[1], KEYS[2]
local ttl, period, count = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local F = ${ADMIT_FIELDS}

-- The period hash fields of every scope in the batch, in one HMGET. Field names are made once per user and
-- key of the batch (a prefetch batch is many requests of one key), not once per request.
local fields, listed = { 'seeded', 'queries', TENANT_SCOPE.spent, TENANT_SCOPE.rsv }, {}
for r = 0, count - 1 do
  local base = 4 + r * F
  local user, key = ARGV[base + 3], ARGV[base + 4]
  for _, names in ipairs({ user ~= '' and scope_names('user', user) or false, key ~= '' and scope_names('key', key) or false }) do
    if names and not listed[names] then
      listed[names] = true
      fields[#fields + 1] = names.spent
      fields[#fields + 1] = names.rsv
    end
  end
end
local values = redis.call('HMGET', period_key, unpack(fields))
local replies = {}
if values[1] == false then
  for r = 1, count do replies[r] = { 'unseeded' } end
  return replies
end
local state, dirty = {}, {}
for i = 2, #fields do state[fields[i]] = tonumber(values[i]) or 0 end

local now = now_ms()
-- The same for every hold of the batch: its rate window and its deadline, as text.
local window_text, deadline_text = int(math.floor(now / WINDOW)), int(now + ttl)
local windows, touched = {}, {}
local holds = {}

-- One budget scope: a denial, or the budget left after this request (the smallest over the scopes).
local function check_budget(scope, spent_field, rsv_field, limit, amount, room, budget_left)
  local spent, held = state[spent_field], state[rsv_field]
  if spent + held + amount * room > limit then
    return { 'budget', scope, int(limit), int(spent), int(held) }, budget_left
  end
  local left = limit - spent - held - amount
  if budget_left < 0 or left < budget_left then budget_left = left end
  return nil, budget_left
end

-- One limiter (rpm, tpm; -1 = none): a denial, or nil with the tightest remaining request and token counts
-- so far updated in rate (lim_req, left_req, lim_tok, left_tok).
local function check_rate(scope, s, rpm, tpm, tokens, room, rate)
  if rpm >= 0 then
    local used = s.rp * s.weight + s.rc
    if used + room > rpm then
      return { 'rate', scope, 'requests', int(rpm), int(wait_ms(s.rc, s.rp, now, 1, rpm)) }
    end
    local left = math.floor(rpm - used - 1)
    if rate[2] < 0 or left < rate[2] then rate[1], rate[2] = rpm, left end
  end
  if tpm >= 0 then
    local used = s.tp * s.weight + s.tc
    if used + tokens * room > tpm then
      return { 'rate', scope, 'tokens', int(tpm), int(wait_ms(s.tc, s.tp, now, tokens, tpm)) }
    end
    local left = math.floor(tpm - used - tokens)
    if rate[4] < 0 or left < rate[4] then rate[3], rate[4] = tpm, left end
  end
  return nil
end

local tenant_limiter = KEYS[3]
for r = 0, count - 1 do
  local base = 4 + r * F
  local id, amount, tokens = ARGV[base], tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local user, key = ARGV[base + 3], ARGV[base + 4]
  local key_limiter = KEYS[tonumber(ARGV[base + 5])]
  local dry = ARGV[base + 14] == '1'
  local room = tonumber(ARGV[base + 15])
  local tenant_budget, user_budget, key_budget = tonumber(ARGV[base + 6]), tonumber(ARGV[base + 7]), tonumber(ARGV[base + 8])

  -- Budgets: tenant, then user, then key (each when the request has one and it has a limit).
  local reply
  local budget_left = -1
  local user_scope = user ~= '' and scope_names('user', user) or nil
  local key_scope = key ~= '' and scope_names('key', key) or nil
  if tenant_budget >= 0 then
    reply, budget_left = check_budget('tenant', TENANT_SCOPE.spent, TENANT_SCOPE.rsv, tenant_budget, amount, room, budget_left)
  end
  if not reply and user_scope and user_budget >= 0 then
    reply, budget_left = check_budget('user', user_scope.spent, user_scope.rsv, user_budget, amount, room, budget_left)
  end
  if not reply and key_scope and key_budget >= 0 then
    reply, budget_left = check_budget('key', key_scope.spent, key_scope.rsv, key_budget, amount, room, budget_left)
  end

  local query_limit = tonumber(ARGV[base + 9])
  if not reply and query_limit >= 0 and state.queries + room > query_limit then
    reply = { 'queries', int(query_limit), int(state.queries) }
  end

  -- Rate limits: the key's limiter, then the tenant's (each loaded only when it has a limit).
  local key_rpm, key_tpm = tonumber(ARGV[base + 12]), tonumber(ARGV[base + 13])
  local tenant_rpm, tenant_tpm = tonumber(ARGV[base + 10]), tonumber(ARGV[base + 11])
  local key_window, tenant_window = false, false
  local rate = { -1, -1, -1, -1 }
  if not reply then
    if key_rpm >= 0 or key_tpm >= 0 then
      key_window = cached_window(windows, key_limiter, now)
      reply = check_rate('key', key_window, key_rpm, key_tpm, tokens, room, rate)
    end
    if tenant_rpm >= 0 or tenant_tpm >= 0 then
      tenant_window = cached_window(windows, tenant_limiter, now)
      if not reply then reply = check_rate('tenant', tenant_window, tenant_rpm, tenant_tpm, tokens, room, rate) end
    end
  end

  if not reply then
    -- Integers as Lua numbers (integer replies, exact below 2^53): cheaper than formatting text.
    reply = { 'ok', rate[1], rate[2], rate[3], rate[4], budget_left, '',
      query_limit >= 0 and query_limit - state.queries - 1 or -1 }
    if not dry then
      for _, names in ipairs({ TENANT_SCOPE, user_scope or false, key_scope or false }) do
        if names then
          state[names.rsv] = state[names.rsv] + amount
          dirty[names.rsv] = true
        end
      end
      state.queries = state.queries + 1
      dirty.queries = true
      local flags = ''
      if key_window then
        key_window.rc = key_window.rc + 1
        key_window.tc = key_window.tc + tokens
        touched[key_limiter] = true
        flags = 'k'
      end
      if tenant_window then
        tenant_window.rc = tenant_window.rc + 1
        tenant_window.tc = tenant_window.tc + tokens
        touched[tenant_limiter] = true
        flags = flags .. 't'
      end
      local hold = id .. '|' .. period .. '|' .. ARGV[base + 1] .. '|' .. ARGV[base + 2] .. '|' .. window_text
        .. '|' .. user .. '|' .. key .. '|' .. flags
      holds[#holds + 1] = deadline_text
      holds[#holds + 1] = hold
      reply[7] = hold
    end
  end
  replies[r + 1] = reply
end

local writes = {}
for field in pairs(dirty) do
  writes[#writes + 1] = field
  writes[#writes + 1] = int(math.max(0, state[field]))
end
if #writes > 0 then redis.call('HSET', period_key, unpack(writes)) end
for limiter_key in pairs(touched) do save_window(limiter_key, windows[limiter_key]) end
if #holds > 0 then redis.call('ZADD', due_key, unpack(holds)) end
return replies
`;
