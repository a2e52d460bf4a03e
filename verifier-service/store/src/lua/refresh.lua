-- One refresh: classify the presented token, then rotate, replay the grace answer, or end the family.
-- KEYS: 1 session record, 2 rotated-hashes set, 3 version, 4 session rate key, 5 sessions zset,
-- 6 feed outbox.
-- ARGV: 1 presented hash, 2 successor hash, 3 successor sealed under the presented token, 4 now (s),
-- 5 now (ms), 6 idle TTL (s), 7 retry grace (s), 8 global not-before ('' = none), 9 rate per
-- minute, 10 the record's keep-until (unix s, store::sessions::record_keep_until; capped here
-- at the record's expires_at, which only the script reads: store::sessions::session_record_expiry
-- is the whole formula), 11 sid, 12 most grace answers per predecessor (0 = no bound; past them
-- the predecessor counts as a rotated token presented again: reuse).
-- Returns {'rotated', sub, version, expires_at, claims} | {'grace', sub, version, expires_at,
-- claims, sealed} | {'limited', sub, seconds} | {'reuse', sub} | {'expired', sub} |
-- {'revoked_all', sub} | {'invalid'}.
-- Runs after prelude/session_common.lua (gcra, end_family).
local rec = redis.call('HMGET', KEYS[1], 'sub', 'rt', 'prev', 'prev_until', 'prev_box',
  'expires_at', 'rt_idle', 'created', 'claims', 'prev_uses')
if not rec[1] or not rec[2] then return {'invalid'} end
local h = ARGV[1]
local now = tonumber(ARGV[4])
local max_uses = tonumber(ARGV[12]) or 0
local kind
if h == rec[2] then
  kind = 'current'
elseif h == rec[3] and now < (tonumber(rec[4]) or 0)
    and (max_uses <= 0 or (tonumber(rec[10]) or 0) < max_uses) then
  kind = 'grace'
elseif h == rec[3] or redis.call('SISMEMBER', KEYS[2], h) == 1 then
  kind = 'reuse'
else
  return {'invalid'}
end
if kind == 'reuse' then
  end_family(KEYS[1], KEYS[2], KEYS[4], KEYS[5], ARGV[11], KEYS[6], ARGV[4])
  return {'reuse', rec[1]}
end
if ARGV[8] ~= '' and (tonumber(rec[8]) or 0) <= tonumber(ARGV[8]) then
  end_family(KEYS[1], KEYS[2], KEYS[4], KEYS[5], ARGV[11], KEYS[6], ARGV[4])
  return {'revoked_all', rec[1]}
end
local expires_at = tonumber(rec[6]) or 0
if now >= expires_at or (kind == 'current' and now >= (tonumber(rec[7]) or 0)) then
  end_family(KEYS[1], KEYS[2], KEYS[4], KEYS[5], ARGV[11], KEYS[6], ARGV[4])
  return {'expired', rec[1]}
end
local wait = gcra(KEYS[4], tonumber(ARGV[5]), tonumber(ARGV[9]))
if wait > 0 then return {'limited', rec[1], tostring(wait)} end
local version = redis.call('GET', KEYS[3]) or '0'
redis.call('HSET', KEYS[1], 'last_seen', ARGV[4])
if kind == 'grace' then
  redis.call('HINCRBY', KEYS[1], 'prev_uses', 1)
  return {'grace', rec[1], version, rec[6], rec[9] or '{}', rec[5] or ''}
end
redis.call('SADD', KEYS[2], h)
redis.call('EXPIREAT', KEYS[2], rec[6])
local idle = now + tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'rt_iat', ARGV[4], 'rt_idle', tostring(idle),
  'prev', h, 'prev_until', tostring(now + tonumber(ARGV[7])), 'prev_box', ARGV[3], 'prev_uses', '0')
local keep = tonumber(ARGV[10])
if keep > expires_at then keep = expires_at end
redis.call('EXPIREAT', KEYS[1], keep)
return {'rotated', rec[1], version, rec[6], rec[9] or '{}'}
