-- Whether a refresh token is the live one of its family (read only).
-- KEYS: 1 session record. ARGV: 1 presented hash, 2 now, 3 global not-before ('' = none).
-- Returns {'active', sub, issued_at, exp} | {'inactive'}.
local rec = redis.call('HMGET', KEYS[1], 'sub', 'rt', 'rt_iat', 'rt_idle', 'expires_at', 'created')
if not rec[1] or rec[2] ~= ARGV[1] then return {'inactive'} end
local now = tonumber(ARGV[2])
local exp = math.min(tonumber(rec[4]) or 0, tonumber(rec[5]) or 0)
if now >= exp then return {'inactive'} end
if ARGV[3] ~= '' and (tonumber(rec[6]) or 0) <= tonumber(ARGV[3]) then return {'inactive'} end
return {'active', rec[1], rec[3] or '0', tostring(exp)}
