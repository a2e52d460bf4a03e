-- The state as of one seq. KEYS: seq, jti, ver, sid, nb, live, seq_id, user_nb, idp. ARGV: 1 now (unix s),
-- 2 most live sessions to list (those expiring latest).
local live = {}
if tonumber(ARGV[2]) > 0 then
  live = redis.call('ZREVRANGEBYSCORE', KEYS[6], '+inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
end
return {
  redis.call('GET', KEYS[1]) or '0',
  redis.call('GET', KEYS[5]) or '',
  redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'WITHSCORES'),
  redis.call('HGETALL', KEYS[3]),
  redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. ARGV[1], '+inf', 'WITHSCORES'),
  live,
  redis.call('GET', KEYS[7]) or '',
  redis.call('HGETALL', KEYS[8]),
  redis.call('ZRANGEBYSCORE', KEYS[9], '(' .. ARGV[1], '+inf', 'WITHSCORES')
}
