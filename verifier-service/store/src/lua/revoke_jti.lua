-- Marks a jti revoked. A re-revocation never shortens an entry: a later expiry wins, and an
-- entry without expiry stays without. KEYS: 1 revoked-jti. ARGV: 1 expiry (unix s) or '' for
-- none. Returns 1.
if ARGV[1] == '' then
  redis.call('SET', KEYS[1], '1')
  return 1
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then
  redis.call('SET', KEYS[1], '1', 'EXAT', ARGV[1])
elseif ttl >= 0 then
  redis.call('EXPIREAT', KEYS[1], ARGV[1], 'GT')
end
return 1
