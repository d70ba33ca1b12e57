-- GCRA, as in memory.go, for one key: reads its TAT (theoretical arrival
-- time), spends one request if there is one to spend, and returns the time
-- and the TAT the decision was made on; the caller computes the Result
-- from them with the same function as the in-process limiter.
--
-- KEYS[1]  the key's TAT, Unix nanoseconds as a decimal string
-- ARGV[1]  now in Unix nanoseconds, or "" to use the server's clock
-- ARGV[2]  the interval: nanoseconds between two requests
-- ARGV[3]  the burst offset: interval × burst, in nanoseconds
-- ARGV[4]  the cost: 1 to spend a request (Allow), 0 to look (Peek), -1
--          to give one back (Refund)
-- ARGV[5]  milliseconds to keep the key after its budget is full again
--
-- Lua's numbers are doubles, exact to 2^53 only, and Unix nanoseconds
-- are about 2^61: times are pairs {seconds, nanoseconds}.

if redis.replicate_commands then
  redis.replicate_commands() -- for servers before 5: TIME, then a write
end

local B = 1000000000

local function parse(s)
  local n = #s
  if n <= 9 then
    return {0, tonumber(s)}
  end
  return {tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))}
end

local function add(a, b)
  local hi, lo = a[1] + b[1], a[2] + b[2]
  if lo >= B then
    hi, lo = hi + 1, lo - B
  end
  return {hi, lo}
end

local function sub(a, b)
  local hi, lo = a[1] - b[1], a[2] - b[2]
  if lo < 0 then
    hi, lo = hi - 1, lo + B
  end
  return {hi, lo}
end

local function less(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2])
end

local function str(a)
  if a[1] == 0 then
    return string.format('%d', a[2])
  end
  return string.format('%d%09d', a[1], a[2])
end

local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = {tonumber(t[1]), tonumber(t[2]) * 1000}
else
  now = parse(ARGV[1])
end

local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local t = parse(stored)
  if less(now, t) then
    tat = t
  end
end

if ARGV[4] == '1' then
  local newTAT = add(tat, parse(ARGV[2]))
  -- Allowed when newTAT - burst offset <= now.
  if not less(add(now, parse(ARGV[3])), newTAT) then
    local left = sub(newTAT, now)
    local ms = math.ceil((left[1] * B + left[2]) / 1000000) + tonumber(ARGV[5])
    redis.call('SET', KEYS[1], str(newTAT), 'PX', ms)
  end
elseif ARGV[4] == '-1' then
  -- One request back: the TAT moves back one interval. At or before now
  -- the budget is full, which is the key not being there.
  local newTAT = sub(tat, parse(ARGV[2]))
  if less(now, newTAT) then
    local left = sub(newTAT, now)
    local ms = math.ceil((left[1] * B + left[2]) / 1000000) + tonumber(ARGV[5])
    redis.call('SET', KEYS[1], str(newTAT), 'PX', ms)
  elseif stored then
    redis.call('DEL', KEYS[1])
  end
end

return {str(now), str(tat)}
