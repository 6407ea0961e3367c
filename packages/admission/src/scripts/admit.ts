import { LUA_COMMON } from "./common.ts";

/**
 * Admission, atomically: budgets (tenant, user, key: spent + held + this request ≤ limit), the monthly query
 * limit, then RPM/TPM per key and per tenant; if everything fits, hold the request's maximum cost and tokens.
 * Denials are checked from the most lasting to the most transient, so a client is told the reason that will
 * still hold after a retry.
 *
 * KEYS: 1 period hash, 2 due set, 3 tenant limiter, 4 key limiter
 * ARGV: 1 reservation id, 2 amount, 3 tokens, 4 ttl ms, 5 period id, 6 user id ('' = none), 7 key id,
 *       8 tenant budget, 9 user budget, 10 key budget, 11 query limit, 12 tenant rpm, 13 tenant tpm,
 *       14 key rpm, 15 key tpm (limits: -1 = unlimited), 16 dry run ('1' = decide only, write nothing)
 * Returns {'unseeded'} | {'budget', scope, limit, spent, reserved} | {'queries', limit, used}
 *       | {'rate', scope, 'requests'|'tokens', limit, wait ms} | {'ok', limit req, remaining req,
 *         limit tokens, remaining tokens, remaining budget, hold} (-1 = no such limit; hold: the due-set
 *         member that settlement removes)
 */
export const ADMIT_LUA = `${LUA_COMMON}
local period_key, due_key = KEYS[1], KEYS[2]
local id, user, key = ARGV[1], ARGV[6], ARGV[7]
local p = read_period(period_key, user, key)
if not p.seeded then return { 'unseeded' } end
local now = now_ms()
local amount, tokens = tonumber(ARGV[2]), tonumber(ARGV[3])
local dry = ARGV[16] == '1'

local budget_limits = { tenant = tonumber(ARGV[8]), user = tonumber(ARGV[9]), key = tonumber(ARGV[10]) }
local budget_left = -1
for _, s in ipairs(p.scopes) do
  local limit = budget_limits[s.scope]
  if limit >= 0 then
    if s.spent + s.held + amount > limit then
      return { 'budget', s.scope, int(limit), int(s.spent), int(s.held) }
    end
    local left = limit - s.spent - s.held - amount
    if budget_left < 0 or left < budget_left then budget_left = left end
  end
end

local query_limit = tonumber(ARGV[11])
if query_limit >= 0 and p.queries + 1 > query_limit then
  return { 'queries', int(query_limit), int(p.queries) }
end

local limiters = { { 'key', KEYS[4], tonumber(ARGV[14]), tonumber(ARGV[15]) }, { 'tenant', KEYS[3], tonumber(ARGV[12]), tonumber(ARGV[13]) } }
local states = {}
local lim_req, left_req, lim_tok, left_tok = -1, -1, -1, -1
for i, l in ipairs(limiters) do
  local scope, limiter_key, rpm, tpm = l[1], l[2], l[3], l[4]
  local s = (rpm >= 0 or tpm >= 0) and load_window(limiter_key, now) or false
  states[i] = s
  if rpm >= 0 then
    local used = s.rp * s.weight + s.rc
    if used + 1 > rpm then return { 'rate', scope, 'requests', int(rpm), int(wait_ms(s.rc, s.rp, now, 1, rpm)) } end
    local left = math.floor(rpm - used - 1)
    if left_req < 0 or left < left_req then left_req, lim_req = left, rpm end
  end
  if tpm >= 0 then
    local used = s.tp * s.weight + s.tc
    if used + tokens > tpm then return { 'rate', scope, 'tokens', int(tpm), int(wait_ms(s.tc, s.tp, now, tokens, tpm)) } end
    local left = math.floor(tpm - used - tokens)
    if left_tok < 0 or left < left_tok then left_tok, lim_tok = left, tpm end
  end
end
local result = { 'ok', int(lim_req), int(left_req), int(lim_tok), int(left_tok), int(budget_left), '' }
if dry then return result end

for _, s in ipairs(p.scopes) do s.held = s.held + amount end
p.queries = p.queries + 1
write_period(p)
local flags = ''
for i, l in ipairs(limiters) do
  local s = states[i]
  if s then
    s.rc = s.rc + 1
    s.tc = s.tc + tokens
    save_window(l[2], s)
    flags = flags .. (l[1] == 'key' and 'k' or 't')
  end
end
local hold = table.concat({ id, ARGV[5], int(amount), int(tokens), int(math.floor(now / WINDOW)), user, key, flags }, '|')
redis.call('ZADD', due_key, int(now + tonumber(ARGV[4])), hold)
result[7] = hold
return result
`;
