-- Lists the user's live sessions, pruning index entries whose record is gone.
-- KEYS: 1 sessions zset. ARGV: 1 now, 2 session key prefix.
-- Returns an array of [sid, device ('' = none), created, last_seen, expires_at].
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, sid in ipairs(sids) do
  local f = redis.call('HMGET', ARGV[2] .. sid, 'device', 'created', 'last_seen', 'expires_at')
  if f[2] then
    table.insert(out, {sid, f[1] or '', f[2], f[3] or f[2], f[4] or '0'})
  else
    redis.call('ZREM', KEYS[1], sid)
  end
end
return out
