-- Lua shared by the scripts: gcra(key, now_ms, per_minute) returns 0 when the request fits the
-- budget (and charges it) or the seconds to wait; end_family(...) deletes a session with its
-- family and, in the same step, puts the end into the user's feed outbox (store::outbox:
-- "<now> <expires_at>" under the sid; the outbox lives a day past the latest session end, longer
-- than any revocation skew).
local function gcra(key, now_ms, per_minute)
  if per_minute <= 0 then return 0 end
  local interval = 60000 / per_minute
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if tat < now_ms then tat = now_ms end
  local new_tat = tat + interval
  local allow_at = new_tat - 60000
  if allow_at > now_ms then
    return math.max(1, math.ceil((allow_at - now_ms) / 1000))
  end
  redis.call('SET', key, string.format('%.0f', math.floor(new_tat)), 'PX', math.max(1, math.ceil(new_tat - now_ms)))
  return 0
end
local function end_family(session, used, rate, zset, sid, outbox, now)
  local expires_at = redis.call('HGET', session, 'expires_at') or '0'
  redis.call('HSET', outbox, sid, now .. ' ' .. expires_at)
  local keep = string.format('%.0f', math.max(tonumber(expires_at) or 0, tonumber(now)) + 86400)
  if redis.call('TTL', outbox) == -1 then
    redis.call('EXPIREAT', outbox, keep)
  else
    redis.call('EXPIREAT', outbox, keep, 'GT')
  end
  redis.call('DEL', session, used, rate)
  redis.call('ZREM', zset, sid)
end
