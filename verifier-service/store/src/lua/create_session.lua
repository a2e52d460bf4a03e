-- Creates a session record and indexes it in the user's zset.
-- KEYS: 1 session record, 2 sessions zset. ARGV: 1 sub, 2 device ('' = none), 3 now,
-- 4 expires_at, 5 sid. Returns 1.
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'created', ARGV[3], 'last_seen', ARGV[3], 'expires_at', ARGV[4])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'device', ARGV[2]) end
redis.call('EXPIREAT', KEYS[1], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[2], last[2])
return 1
