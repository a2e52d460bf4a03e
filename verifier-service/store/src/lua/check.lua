-- One check in one round trip.
-- KEYS: 1 version, 2 revoked-jti, 3 session record (unused unless ARGV[4] = "1"), 4 the user's
-- not-before; all in the user's slot.
-- ARGV: 1 token version ('' = the token has no `ver`), 2 now (unix s), 3 sub, 4 "1" to check the
-- session, 5 last-seen interval (s), 6 token iat ('' = none), 7 "1" to look up the jti (a token
-- without jti cannot have been revoked by it).
-- A token with `ver` is judged by the user's version; one without by the user's not-before (iat
-- at or before it, or no iat: refused). A user revoked before not-befores existed has a version
-- but no not-before: tokens without `ver` stay refused for them (the revocation's moment is not
-- known), until the next revocation stores one.
-- Returns allow or a reason code.
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 'revoked' end
if ARGV[1] ~= '' then
  local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  if tonumber(ARGV[1]) < current then return 'stale_version' end
else
  local not_before = redis.call('GET', KEYS[4])
  if not_before then
    local iat = tonumber(ARGV[6])
    local limit = tonumber(not_before)
    if not iat or not limit or iat <= limit then return 'user_revoked' end
  elseif (tonumber(redis.call('GET', KEYS[1]) or '0') or 0) > 0 then
    return 'user_revoked'
  end
end
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
