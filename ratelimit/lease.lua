-- A lease of a key's budget (see lease.go), after time.lua: takes a span
-- of the key's GCRA time line, from its TAT on, as long as what is wanted
-- and no longer than the budget left, and moves the TAT to its end, as
-- that many requests of redis.lua would. The caller then spends it
-- request by request without asking again.
--
-- KEYS[1]  the key's TAT, Unix nanoseconds as a decimal string
-- ARGV[1]  now in Unix nanoseconds, or "" to use the server's clock
-- ARGV[2]  the interval: nanoseconds between two requests
-- ARGV[3]  the burst offset: interval × burst, in nanoseconds
-- ARGV[4]  the span wanted if it starts at ARGV[6], in nanoseconds
-- ARGV[5]  milliseconds to keep the key after its budget is full again
-- ARGV[6]  the end of the caller's lease, as it got it: a span shorter
--          than one interval is leased only if it starts there, where it
--          completes what the caller has left
-- ARGV[7]  the span wanted if it starts elsewhere: a whole number of
--          requests, since what the caller has left cannot complete it
--
-- Returns {now, start, end}: the lease is [start, end), nothing if end
-- is start, which is then the key's TAT.

local tat = current(KEYS[1])
local after = str(tat) == ARGV[6]
local span = sub(add(now, parse(ARGV[3])), tat) -- the budget left
local want = parse(ARGV[7])
if after then
  want = parse(ARGV[4])
end
if less(want, span) then
  span = want
end

local granted = false
if less({0, 0}, span) then
  granted = after or not less(span, parse(ARGV[2]))
end
if not granted then
  return {str(now), str(tat), str(tat)}
end
local stop = add(tat, span)
keep(KEYS[1], stop, now, ARGV[5])
return {str(now), str(tat), str(stop)}
