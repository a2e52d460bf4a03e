-- RFC 7009 for a refresh token: a token of the family (current, in grace, or rotated) ends its
-- session; anything else changes nothing.
-- KEYS: 1 session record, 2 rotated-hashes set, 3 session rate key, 4 sessions zset, 5 feed
-- outbox.
-- ARGV: 1 presented hash, 2 now (ms), 3 rate per minute, 4 sid.
-- Returns {'ended', sub} | {'limited', sub, seconds} | {'unknown'}.
-- Runs after prelude/session_common.lua (gcra, end_family).
local rec = redis.call('HMGET', KEYS[1], 'sub', 'rt', 'prev')
if not rec[1] or not rec[2] then return {'unknown'} end
local h = ARGV[1]
if h ~= rec[2] and h ~= rec[3] and redis.call('SISMEMBER', KEYS[2], h) == 0 then
  return {'unknown'}
end
local wait = gcra(KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]))
if wait > 0 then return {'limited', rec[1], tostring(wait)} end
end_family(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[4], KEYS[5],
  string.format('%.0f', math.floor(tonumber(ARGV[2]) / 1000)))
return {'ended', rec[1]}
