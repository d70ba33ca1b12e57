-- GCRA, as in memory.go, for one key: reads its TAT (theoretical arrival
-- time), spends one request if there is one to spend, and returns the time
-- and the TAT the decision was made on; the caller computes the Result
-- from them with the same function as the in-process limiter. It runs
-- after time.lua.
--
-- KEYS[1]  the key's TAT, Unix nanoseconds as a decimal string
-- ARGV[1]  now in Unix nanoseconds, or "" to use the server's clock
-- ARGV[2]  the interval: nanoseconds between two requests
-- ARGV[3]  the burst offset: interval × burst, in nanoseconds
-- ARGV[4]  the cost: 1 to spend a request (Allow), 0 to look (Peek), -1
--          to give one back (Refund)
-- ARGV[5]  milliseconds to keep the key after its budget is full again

local tat = current(KEYS[1])

if ARGV[4] == '1' then
  local newTAT = add(tat, parse(ARGV[2]))
  -- Allowed when newTAT - burst offset <= now.
  if not less(add(now, parse(ARGV[3])), newTAT) then
    keep(KEYS[1], newTAT, now, ARGV[5])
  end
elseif ARGV[4] == '-1' then
  -- One request back: the TAT moves back one interval. At or before now
  -- the budget is full, which is the key not being there.
  local newTAT = sub(tat, parse(ARGV[2]))
  if less(now, newTAT) then
    keep(KEYS[1], newTAT, now, ARGV[5])
  else
    redis.call('DEL', KEYS[1])
  end
end

return {str(now), str(tat)}
