-- Raises the global not-before to now (never lowers it). KEYS: 1 global key. ARGV: 1 now.
-- Returns the value in force.
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local now = tonumber(ARGV[1])
if now > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return now
end
return current
