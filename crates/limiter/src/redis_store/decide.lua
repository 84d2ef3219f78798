-- keystile limiter: decide one request against all of its buckets, atomically, inside Redis.
-- A transcription of crates/limiter/src/rule.rs and calendar.rs; keep the three in step.
--
-- KEYS[i]   bucket i's key
-- ARGV[1]   now in microseconds, or '' to take it from this server's TIME
-- ARGV[2]   'd' to decide (charge if every bucket admits), 'p' to peek (charge nothing)
-- ARGV[3]   extra milliseconds of key lifetime beyond the window's end
-- ARGV[4]   lease share: a lease is at most the room left after the request divided by this
-- then per bucket i, nine values from ARGV[5 + 9(i-1)]:
--   kind, cost, a, b, c, d, want, back, back_at
--   'f' aligned window: a = limit, b = length (µs)
--   'M' billing month:  a = limit, b = anchor day, c..d = the caller's guess of the month
--                       [start, end), used only when it holds now
--   'g' GCRA:           a = interval T, b = tolerance τ, c = capacity, d = period (µs)
--   want                units the node asks to reserve beyond the cost (a quota lease), granted
--                       only if the request is admitted and the bucket roomy; 0 for none
--   back                units the node reserved earlier and did not spend, returned first (any
--                       mode); back_at: for windows, the window start they were reserved in;
--                       for GCRA, µs to move the TAT by: back by the unspent units, on by the
--                       refills the node's spending passed over while Redis held them ahead
-- Stored values: 'start:count' for windows, the TAT for GCRA; all integers, in µs.
-- Returns {now, allowed (1/0), then per bucket: used, remaining, reset, wait (-1: admitted),
-- granted}. The report leaves out what was granted: those units are the node's to spend.

-- Speed matters: Redis runs one script at a time, so this script's time bounds every node's
-- rate. Globals are read once into locals; arguments become numbers by arithmetic coercion
-- (`+ 0`, a third of `tonumber`'s cost; they come from our own client, always numeric); stored
-- values, which could have been edited by hand, still go through `tonumber`. A window's value
-- is written with '%d', not '%.0f', and a TAT as a number (Redis writes it so that it reads
-- back exactly). Together these took a five-bucket call from 26.8 to 23.1 µs of Redis time.
local floor, min, max = math.floor, math.min, math.max
local tonumber, format, find, sub = tonumber, string.format, string.find, string.sub
local call, KEYS, ARGV = redis.call, KEYS, ARGV
local DAY = 86400000000

local now
if ARGV[1] == '' then
  local t = call('TIME')
  now = t[1] * 1000000 + t[2]
else
  now = ARGV[1] + 0
end
local charging = ARGV[2] == 'd'
local slack = ARGV[3] + 0
local share = ARGV[4] + 0
local WIDTH = 9

-- Floor division, corrected so doubles never round a quotient up.
local function idiv(x, y)
  local q = floor(x / y)
  if q * y > x then
    q = q - 1
  elseif (q + 1) * y <= x then
    q = q + 1
  end
  return q
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = idiv(y, 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = idiv(153 * mp + 2, 5) + d - 1
  local doe = yoe * 365 + idiv(yoe, 4) - idiv(yoe, 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = idiv(z, 146097)
  local doe = z - era * 146097
  local yoe = idiv(doe - idiv(doe, 1460) + idiv(doe, 36524) - idiv(doe, 146096), 365)
  local doy = doe - (365 * yoe + idiv(yoe, 4) - idiv(yoe, 100))
  local mp = idiv(5 * doy + 2, 153)
  local d = doy - idiv(153 * mp + 2, 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_in_month(y, m)
  if m == 2 then
    if y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then return 29 end
    return 28
  elseif m == 4 or m == 6 or m == 9 or m == 11 then
    return 30
  end
  return 31
end

local function month_bounds(anchor)
  local y, m, d = civil_from_days(idiv(now, DAY))
  if d < min(anchor, days_in_month(y, m)) then
    if m == 1 then y, m = y - 1, 12 else m = m - 1 end
  end
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return days_from_civil(y, m, min(anchor, days_in_month(y, m))) * DAY,
    days_from_civil(ny, nm, min(anchor, days_in_month(ny, nm))) * DAY
end

-- Bucket i charged `cost` against stored value `v` (false when absent), reserving up to `want`
-- more if it is roomy. Returns admitted, wait, used, remaining, reset, value to store (nil:
-- none), its expiry, units granted.
local function charge(i, v, cost, want)
  local base = 5 + (i - 1) * WIDTH
  local kind = ARGV[base]
  local a, b = ARGV[base + 2] + 0, ARGV[base + 3] + 0
  if kind == 'g' then
    local interval, tolerance = a, b
    local capacity = ARGV[base + 4] + 0
    local tat = now
    if v then tat = max(tonumber(v) or now, now) end
    local nxt = tat + interval * cost
    local ok, wait = true, -1
    if cost > capacity then
      ok, wait, nxt = false, max(tat - now, ARGV[base + 5] + 0), tat
    elseif nxt - now > tolerance then
      ok, wait, nxt = false, nxt - tolerance - now, tat
    end
    local remaining = min(idiv(max(tolerance - (nxt - now), 0), interval), capacity)
    if ok and cost > 0 then
      local granted = 0
      if want > 0 then granted = min(want, floor(remaining / share)) end
      local kept = nxt + granted * interval
      return true, -1, capacity - remaining, remaining, nxt, kept, kept, granted
    end
    return ok, wait, capacity - remaining, remaining, nxt
  end
  local limit = a
  local start, stop
  if kind == 'f' then
    start = now - now % b
    stop = start + b
  else
    start, stop = ARGV[base + 4] + 0, ARGV[base + 5] + 0
    if not (start <= now and now < stop) then
      start, stop = month_bounds(b)
    end
  end
  local count = 0
  if v then
    local colon = find(v, ':', 1, true)
    if colon and tonumber(sub(v, 1, colon - 1)) == start then
      count = tonumber(sub(v, colon + 1)) or 0
    end
  end
  if cost > limit or count + cost > limit then
    return false, stop - now, count, max(limit - count, 0), stop
  end
  if cost == 0 then
    return true, -1, count, limit - count, stop
  end
  count = count + cost
  local granted = 0
  if want > 0 then granted = min(want, floor((limit - count) / share)) end
  return true, -1, count, limit - count, stop, format('%d:%d', start, count + granted), stop, granted
end

-- Units a node gives back: bucket i's stored value `v` without them, written at once (they
-- were reserved, never spent, whatever this request's verdict). A window's units count only in
-- the window they were reserved in; a TAT also moves on by the node's gap, and never goes back
-- before now.
local function give_back(i, v)
  local base = 5 + (i - 1) * WIDTH
  local back, at = ARGV[base + 7] + 0, ARGV[base + 8] + 0
  local gcra = ARGV[base] == 'g'
  if not v or (back == 0 and not (gcra and at ~= 0)) then return v end
  local value
  if gcra then
    local tat = tonumber(v)
    if tat then value = max(tat + at, now) end
  else
    local colon = find(v, ':', 1, true)
    if colon and tonumber(sub(v, 1, colon - 1)) == at then
      value = format('%d:%d', at, max((tonumber(sub(v, colon + 1)) or 0) - back, 0))
    end
  end
  if value == nil then return v end
  call('SET', KEYS[i], value, 'KEEPTTL')
  return value
end

local n = #KEYS
local stored = call('MGET', unpack(KEYS))
for i = 1, n do
  local v = give_back(i, stored[i])
  if v ~= stored[i] then
    -- The same bucket charged twice in this request sees the returned units too.
    for j = i, n do
      if KEYS[j] == KEYS[i] then stored[j] = v end
    end
  end
end
local pending, writes = {}, {}
local out = { now, 1 }
local allowed = true
for i = 1, n do
  local key = KEYS[i]
  local cost, want = 0, 0
  if charging then
    local base = 5 + (i - 1) * WIDTH
    cost, want = ARGV[base + 1] + 0, ARGV[base + 6] + 0
  end
  -- A bucket charged twice in one request sees its first charge.
  local v = pending[key]
  if v == nil then v = stored[i] end
  local ok, wait, used, remaining, reset, value, expires, granted = charge(i, v, cost, want)
  if not ok then allowed = false end
  if value then
    pending[key] = value
    writes[#writes + 1] = i
    writes[#writes + 1] = value
    writes[#writes + 1] = expires
  end
  local at = #out
  out[at + 1] = used
  out[at + 2] = remaining
  out[at + 3] = reset
  out[at + 4] = wait
  out[at + 5] = granted or 0
end

if allowed then
  for w = 1, #writes, 3 do
    -- At least the window's end in whole milliseconds; a millisecond more is harmless.
    local ttl = floor((writes[w + 2] - now) / 1000) + 1 + slack
    call('SET', KEYS[writes[w]], writes[w + 1], 'PX', ttl)
  end
else
  -- Nothing is charged: report every bucket as it stands, keeping the denials' waits.
  out[2] = 0
  for i = 1, n do
    local _, _, used, remaining, reset = charge(i, stored[i], 0, 0)
    local at = 2 + (i - 1) * 5
    out[at + 1] = used
    out[at + 2] = remaining
    out[at + 3] = reset
    out[at + 5] = 0
  end
end
return out
