-- Bumps the user's version and ends all their sessions.
-- KEYS: 1 version, 2 sessions zset. ARGV: 1 session key prefix.
-- Returns {new version, sid, expires_at, sid, expires_at, ...}: every session it ended, so the
-- caller can announce those the feed does not hold yet.
local version = redis.call('INCR', KEYS[1])
local sids = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local out = {tostring(version)}
for i = 1, #sids, 2 do
  redis.call('DEL', ARGV[1] .. sids[i])
  table.insert(out, sids[i])
  table.insert(out, sids[i + 1])
end
redis.call('DEL', KEYS[2])
return out
