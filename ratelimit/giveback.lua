-- Gives back the unused end of a lease (see lease.go), after time.lua, if
-- nobody leased after it: the key's TAT is still the lease's end. Then
-- the TAT goes back to where the unused part starts, as if it had never
-- been leased. Otherwise nothing changes (the span is lost to this
-- lease's holder, and comes back with time as every spent request does).
--
-- KEYS[1]  the key's TAT, Unix nanoseconds as a decimal string
-- ARGV[1]  now in Unix nanoseconds, or "" to use the server's clock
-- ARGV[2]  the end of the lease, as it was leased
-- ARGV[3]  where its unused part starts
-- ARGV[4]  milliseconds to keep the key after its budget is full again
--
-- Returns 1 if the span was given back, 0 if not.

if redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return 0
end
local to = parse(ARGV[3])
if less(now, to) then
  keep(KEYS[1], to, now, ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
