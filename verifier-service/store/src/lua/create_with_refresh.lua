-- Creates a session that owns a refresh family.
-- KEYS: 1 session record, 2 sessions zset, 3 version, 4 rotated-hashes set.
-- ARGV: 1 sub, 2 device ('' = none), 3 now, 4 expires_at, 5 sid, 6 refresh hash, 7 refresh idle
-- expiry, 8 record expiry (unix s), 9 claims JSON.
-- Returns the user's current version.
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'created', ARGV[3], 'last_seen', ARGV[3],
  'expires_at', ARGV[4], 'rt', ARGV[6], 'rt_iat', ARGV[3], 'rt_idle', ARGV[7], 'claims', ARGV[9])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'device', ARGV[2]) end
redis.call('EXPIREAT', KEYS[1], ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[2], last[2])
return tonumber(redis.call('GET', KEYS[3]) or '0') or 0
