-- One check in one round trip.
-- KEYS: 1 version, 2 revoked-jti, 3 session record (same slot; unused unless ARGV[4] = "1").
-- ARGV: 1 token version, 2 now (unix s), 3 sub, 4 "1" to check the session, 5 last-seen interval (s).
-- Returns allow or a reason code.
if redis.call('EXISTS', KEYS[2]) == 1 then return 'revoked' end
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) < current then return 'stale_version' end
if ARGV[4] == '1' then
  local rec = redis.call('HMGET', KEYS[3], 'sub', 'last_seen')
  if not rec[1] then return 'session_missing' end
  if rec[1] ~= ARGV[3] then return 'session_mismatch' end
  local now = tonumber(ARGV[2])
  if now - (tonumber(rec[2]) or 0) >= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[3], 'last_seen', ARGV[2])
  end
end
return 'allow'
