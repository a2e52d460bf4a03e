-- Bumps the user's version, raises their not-before (never lowers it) and ends all their
-- sessions.
-- KEYS: 1 version, 2 sessions zset, 3 not-before. ARGV: 1 session key prefix, 2 the not-before
-- of this revocation (unix s).
-- Returns {new version, not-before in force, sid, expires_at, sid, expires_at, ...}: every
-- session it ended, so the caller can announce those the feed does not hold yet.
local version = redis.call('INCR', KEYS[1])
local not_before = tonumber(ARGV[2])
local held = tonumber(redis.call('GET', KEYS[3]) or '')
if held and held > not_before then
  not_before = held
else
  redis.call('SET', KEYS[3], ARGV[2])
end
local sids = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local out = {tostring(version), string.format('%.0f', not_before)}
for i = 1, #sids, 2 do
  redis.call('DEL', ARGV[1] .. sids[i])
  table.insert(out, sids[i])
  table.insert(out, sids[i + 1])
end
redis.call('DEL', KEYS[2])
return out
