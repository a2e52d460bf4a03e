-- Ends one session. KEYS: 1 session record, 2 sessions zset. ARGV: 1 sid.
-- Returns 1 when a live session was deleted, else 0.
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return deleted
