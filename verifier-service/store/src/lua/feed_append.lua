-- Appends changes. KEYS: seq, log, jti, ver, sid, nb, live, seq_id, user_nb, idp. ARGV: 1 initial
-- seq, 2 log max length, 3 now (unix s), then per change: JSON, kind, member, score, entry id,
-- extra (a user change's not-before, '' for none). Returns the last seq given.
if redis.call('EXISTS', KEYS[1]) == 0 then
  local start = tonumber(ARGV[1])
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if last[1] then
    local top = tonumber(string.match(last[1][1], '^(%d+)'))
    if top and top > start then start = top end
  end
  redis.call('SET', KEYS[1], string.format('%.0f', start))
end
local seq = 0
for i = 4, #ARGV, 6 do
  seq = redis.call('INCR', KEYS[1])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], string.format('%.0f', seq) .. '-0', 'c', ARGV[i], 'i', ARGV[i + 4])
  redis.call('SET', KEYS[8], ARGV[i + 4])
  local kind, member, score = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if kind == 'jti' then
    redis.call('ZADD', KEYS[3], 'GT', score, member)
  elseif kind == 'user' then
    local current = tonumber(redis.call('HGET', KEYS[4], member) or '0') or 0
    if tonumber(score) > current then redis.call('HSET', KEYS[4], member, score) end
    local not_before = tonumber(ARGV[i + 5])
    if not_before then
      local held = tonumber(redis.call('HGET', KEYS[9], member) or '')
      if not held or not_before > held then redis.call('HSET', KEYS[9], member, ARGV[i + 5]) end
    end
  elseif kind == 'idp_session' then
    redis.call('ZADD', KEYS[10], 'GT', score, member)
  elseif kind == 'session' then
    redis.call('ZADD', KEYS[5], 'GT', score, member)
    redis.call('ZREM', KEYS[7], member)
  elseif kind == 'start' then
    local ended = tonumber(redis.call('ZSCORE', KEYS[5], member) or '0') or 0
    if ended <= tonumber(ARGV[3]) then redis.call('ZADD', KEYS[7], 'GT', score, member) end
  elseif kind == 'not_before' then
    local current = tonumber(redis.call('GET', KEYS[6]) or '0') or 0
    if tonumber(score) > current then redis.call('SET', KEYS[6], score) end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', ARGV[3])
return seq
