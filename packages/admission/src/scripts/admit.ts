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
local period_key, due_key = KEYS[1], KEYS[2]
local ttl, period, count = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local F = ${ADMIT_FIELDS}

-- The period hash fields of every scope in the batch, in one HMGET.
local fields, seen = { 'seeded', 'queries', 'spent:tenant', 'rsv:tenant' }, {}
for r = 0, count - 1 do
  local base = 4 + r * F
  for _, f in ipairs({ ARGV[base + 3] ~= '' and ('user:' .. ARGV[base + 3]) or false, ARGV[base + 4] ~= '' and ('key:' .. ARGV[base + 4]) or false }) do
    if f and not seen[f] then
      seen[f] = true
      fields[#fields + 1] = 'spent:' .. f
      fields[#fields + 1] = 'rsv:' .. f
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
local function window(limiter_key) return cached_window(windows, limiter_key, now) end
local holds = {}

for r = 0, count - 1 do
  local base = 4 + r * F
  local id, amount, tokens = ARGV[base], tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local user, key = ARGV[base + 3], ARGV[base + 4]
  local key_limiter = KEYS[tonumber(ARGV[base + 5])]
  local dry = ARGV[base + 14] == '1'
  local room = tonumber(ARGV[base + 15])
  local scopes = { { 'tenant', 'tenant', tonumber(ARGV[base + 6]) } }
  if user ~= '' then scopes[#scopes + 1] = { 'user', 'user:' .. user, tonumber(ARGV[base + 7]) } end
  if key ~= '' then scopes[#scopes + 1] = { 'key', 'key:' .. key, tonumber(ARGV[base + 8]) } end

  local reply
  local budget_left = -1
  for _, s in ipairs(scopes) do
    local limit = s[3]
    if limit >= 0 and not reply then
      local spent, held = state['spent:' .. s[2]], state['rsv:' .. s[2]]
      if spent + held + amount * room > limit then
        reply = { 'budget', s[1], int(limit), int(spent), int(held) }
      else
        local left = limit - spent - held - amount
        if budget_left < 0 or left < budget_left then budget_left = left end
      end
    end
  end

  local query_limit = tonumber(ARGV[base + 9])
  if not reply and query_limit >= 0 and state.queries + room > query_limit then
    reply = { 'queries', int(query_limit), int(state.queries) }
  end

  local limiters = { { 'key', key_limiter, tonumber(ARGV[base + 12]), tonumber(ARGV[base + 13]) }, { 'tenant', KEYS[3], tonumber(ARGV[base + 10]), tonumber(ARGV[base + 11]) } }
  local lim_req, left_req, lim_tok, left_tok = -1, -1, -1, -1
  if not reply then
    for _, l in ipairs(limiters) do
      local scope, limiter_key, rpm, tpm = l[1], l[2], l[3], l[4]
      local s = (rpm >= 0 or tpm >= 0) and window(limiter_key) or false
      l[5] = s
      if s and not reply then
        if rpm >= 0 then
          local used = s.rp * s.weight + s.rc
          if used + room > rpm then
            reply = { 'rate', scope, 'requests', int(rpm), int(wait_ms(s.rc, s.rp, now, 1, rpm)) }
          else
            local left = math.floor(rpm - used - 1)
            if left_req < 0 or left < left_req then left_req, lim_req = left, rpm end
          end
        end
        if tpm >= 0 and not reply then
          local used = s.tp * s.weight + s.tc
          if used + tokens * room > tpm then
            reply = { 'rate', scope, 'tokens', int(tpm), int(wait_ms(s.tc, s.tp, now, tokens, tpm)) }
          else
            local left = math.floor(tpm - used - tokens)
            if left_tok < 0 or left < left_tok then left_tok, lim_tok = left, tpm end
          end
        end
      end
    end
  end

  if not reply then
    -- Integers as Lua numbers (integer replies, exact below 2^53): cheaper than formatting text.
    reply = { 'ok', lim_req, left_req, lim_tok, left_tok, budget_left, '',
      query_limit >= 0 and query_limit - state.queries - 1 or -1 }
    if not dry then
      for _, s in ipairs(scopes) do
        local field = 'rsv:' .. s[2]
        state[field] = state[field] + amount
        dirty[field] = true
      end
      state.queries = state.queries + 1
      dirty.queries = true
      local flags = ''
      for _, l in ipairs(limiters) do
        local s = l[5]
        if s then
          s.rc = s.rc + 1
          s.tc = s.tc + tokens
          touched[l[2]] = true
          flags = flags .. (l[1] == 'key' and 'k' or 't')
        end
      end
      local hold = table.concat({ id, period, ARGV[base + 1], ARGV[base + 2], window_text, user, key, flags }, '|')
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
