-- The prelude of every script of this package: times as pairs, and the
-- time a decision is made at.
--
-- Lua's numbers are doubles, exact to 2^53 only, and Unix nanoseconds
-- are about 2^61: times are pairs {seconds, nanoseconds}, read from and
-- written as decimal strings of nanoseconds. ARGV[1] is always now in
-- Unix nanoseconds, or "" to use the server's clock.

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

-- keep stores tat as the key's TAT, for as long as it takes the budget to
-- be full again (tat - now) and idle more milliseconds.
local function keep(key, tat, now, idle)
  local left = sub(tat, now)
  local ms = math.ceil((left[1] * B + left[2]) / 1000000) + tonumber(idle)
  redis.call('SET', key, str(tat), 'PX', ms)
end

local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = {tonumber(t[1]), tonumber(t[2]) * 1000}
else
  now = parse(ARGV[1])
end

-- The key's TAT, or now if it is not after now (a full budget).
local function current(key)
  local stored = redis.call('GET', key)
  if stored then
    local t = parse(stored)
    if less(now, t) then
      return t
    end
  end
  return now
end
