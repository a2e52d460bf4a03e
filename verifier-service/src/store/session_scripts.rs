//! The Lua scripts of sessions with refresh families and of the rate limits. Each script touches
//! the keys of one slot only, every one of them named in KEYS (so they run on Redis Cluster too).
//!
//! A refresh family lives in its session record (`warden:{T}:session:<sid>`), beside the fields the
//! check reads: `rt` (SHA-256 of the current refresh token), `rt_iat`, `rt_idle` (its idle expiry),
//! `prev` (SHA-256 of the immediate predecessor), `prev_until` (end of its retry grace), `prev_box`
//! (the current token sealed under a key only the predecessor yields), `claims` (extra access-token
//! claims). Rotated hashes go to `warden:{T}:rtused:<sid>`, so a replayed old token is recognised
//! as one of this family (theft) rather than as a stranger's guess (which must not end anything).

/// Lua shared by the scripts: `gcra(key, now_ms, per_minute)` returns 0 when the request fits the
/// budget (and charges it) or the seconds to wait; `end_family(...)` deletes a session with its
/// family and, in the same step, puts the end into the user's feed outbox (`store::outbox`:
/// `"<now> <expires_at>"` under the sid; the outbox lives a day past the latest session end, longer
/// than any revocation skew).
const COMMON: &str = r#"
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
"#;

/// Creates a session that owns a refresh family.
/// KEYS: 1 session record, 2 sessions zset, 3 version, 4 rotated-hashes set.
/// ARGV: 1 sub, 2 device ('' = none), 3 now, 4 expires_at, 5 sid, 6 refresh hash, 7 refresh idle
/// expiry, 8 record expiry (unix s), 9 claims JSON.
/// Returns the user's current version.
pub const CREATE_WITH_REFRESH: &str = r#"
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'created', ARGV[3], 'last_seen', ARGV[3],
  'expires_at', ARGV[4], 'rt', ARGV[6], 'rt_iat', ARGV[3], 'rt_idle', ARGV[7], 'claims', ARGV[9])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'device', ARGV[2]) end
redis.call('EXPIREAT', KEYS[1], ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[2], last[2])
return tonumber(redis.call('GET', KEYS[3]) or '0') or 0
"#;

/// One refresh: classify the presented token, then rotate, replay the grace answer, or end the family.
/// KEYS: 1 session record, 2 rotated-hashes set, 3 version, 4 session rate key, 5 sessions zset,
/// 6 feed outbox.
/// ARGV: 1 presented hash, 2 successor hash, 3 successor sealed under the presented token, 4 now (s),
/// 5 now (ms), 6 idle TTL (s), 7 retry grace (s), 8 global not-before ('' = none), 9 rate per
/// minute, 10 access TTL (s), 11 sid, 12 most grace answers per predecessor (0 = no bound; past
/// them the predecessor counts as a rotated token presented again: reuse).
/// Returns {'rotated', sub, version, expires_at, claims} | {'grace', sub, version, expires_at,
/// claims, sealed} | {'limited', sub, seconds} | {'reuse', sub} | {'expired', sub} |
/// {'revoked_all', sub} | {'invalid'}.
pub fn refresh() -> String {
    format!("{COMMON}{REFRESH_BODY}")
}

const REFRESH_BODY: &str = r#"
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
local keep = math.max(idle, now + tonumber(ARGV[10]))
if keep > expires_at then keep = expires_at end
redis.call('EXPIREAT', KEYS[1], keep)
return {'rotated', rec[1], version, rec[6], rec[9] or '{}'}
"#;

/// RFC 7009 for a refresh token: a token of the family (current, in grace, or rotated) ends its
/// session; anything else changes nothing.
/// KEYS: 1 session record, 2 rotated-hashes set, 3 session rate key, 4 sessions zset, 5 feed
/// outbox.
/// ARGV: 1 presented hash, 2 now (ms), 3 rate per minute, 4 sid.
/// Returns {'ended', sub} | {'limited', sub, seconds} | {'unknown'}.
pub fn revoke_refresh() -> String {
    format!("{COMMON}{REVOKE_REFRESH_BODY}")
}

const REVOKE_REFRESH_BODY: &str = r#"
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
"#;

/// Whether a refresh token is the live one of its family (read only).
/// KEYS: 1 session record. ARGV: 1 presented hash, 2 now, 3 global not-before ('' = none).
/// Returns {'active', sub, issued_at, exp} | {'inactive'}.
pub const INTROSPECT_REFRESH: &str = r#"
local rec = redis.call('HMGET', KEYS[1], 'sub', 'rt', 'rt_iat', 'rt_idle', 'expires_at', 'created')
if not rec[1] or rec[2] ~= ARGV[1] then return {'inactive'} end
local now = tonumber(ARGV[2])
local exp = math.min(tonumber(rec[4]) or 0, tonumber(rec[5]) or 0)
if now >= exp then return {'inactive'} end
if ARGV[3] ~= '' and (tonumber(rec[6]) or 0) <= tonumber(ARGV[3]) then return {'inactive'} end
return {'active', rec[1], rec[3] or '0', tostring(exp)}
"#;

/// Charges one request to a budget. KEYS: 1 rate key. ARGV: 1 now (ms), 2 rate per minute.
/// Returns 0 (allowed) or the seconds to wait.
pub fn rate() -> String {
    format!("{COMMON}return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))")
}
