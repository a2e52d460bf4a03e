//! The Lua scripts. Each touches the keys of one user only (one hash tag), so it is valid on Redis
//! Cluster too. Keys not passed in KEYS are only ever built from a prefix of the same tag.

/// One check in one round trip.
/// KEYS: 1 version, 2 revoked-jti, 3 session record (same slot; unused unless ARGV[4] = "1").
/// ARGV: 1 token version, 2 now (unix s), 3 sub, 4 "1" to check the session, 5 last-seen interval (s).
/// Returns `allow` or a reason code.
pub const CHECK: &str = r#"
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
"#;

/// Marks a jti revoked. A re-revocation never shortens an entry: a later expiry wins, and an
/// entry without expiry stays without. KEYS: 1 revoked-jti. ARGV: 1 expiry (unix s) or '' for
/// none. Returns 1.
pub const REVOKE_JTI: &str = r#"
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
"#;

/// Bumps the user's version and ends all their sessions.
/// KEYS: 1 version, 2 sessions zset. ARGV: 1 session key prefix.
/// Returns {new version, sid, expires_at, sid, expires_at, ...}: every session it ended, so the
/// caller can announce those the feed does not hold yet.
pub const REVOKE_USER: &str = r#"
local version = redis.call('INCR', KEYS[1])
local sids = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local out = {tostring(version)}
for i = 1, #sids, 2 do
  redis.call('DEL', ARGV[1] .. sids[i])
  table.insert(out, sids[i])
  table.insert(out, sids[i + 1])
end
redis.call('DEL', KEYS[2])
return out
"#;

/// Creates a session record and indexes it in the user's zset.
/// KEYS: 1 session record, 2 sessions zset. ARGV: 1 sub, 2 device ('' = none), 3 now,
/// 4 expires_at, 5 sid. Returns 1.
pub const CREATE_SESSION: &str = r#"
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'created', ARGV[3], 'last_seen', ARGV[3], 'expires_at', ARGV[4])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'device', ARGV[2]) end
redis.call('EXPIREAT', KEYS[1], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[2], last[2])
return 1
"#;

/// Lists the user's live sessions, pruning index entries whose record is gone.
/// KEYS: 1 sessions zset. ARGV: 1 now, 2 session key prefix.
/// Returns an array of [sid, device ('' = none), created, last_seen, expires_at].
pub const LIST_SESSIONS: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local sids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, sid in ipairs(sids) do
  local f = redis.call('HMGET', ARGV[2] .. sid, 'device', 'created', 'last_seen', 'expires_at')
  if f[2] then
    table.insert(out, {sid, f[1] or '', f[2], f[3] or f[2], f[4] or '0'})
  else
    redis.call('ZREM', KEYS[1], sid)
  end
end
return out
"#;

/// Ends one session. KEYS: 1 session record, 2 sessions zset. ARGV: 1 sid.
/// Returns 1 when a live session was deleted, else 0.
pub const DELETE_SESSION: &str = r#"
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return deleted
"#;

/// Raises the global not-before to `now` (never lowers it). KEYS: 1 global key. ARGV: 1 now.
/// Returns the value in force.
pub const REVOKE_ALL: &str = r#"
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local now = tonumber(ARGV[1])
if now > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return now
end
return current
"#;
