//! The Redis store: one connection (to a single Redis, a Redis Cluster, or the master a Sentinel
//! group names), scripts run by EVALSHA (falling back to EVAL once after a node lost its script
//! cache), every call bounded by a timeout.
//!
//! Its own crate (`warden-store`, the verifier's `store` layer) so the compiler holds the import
//! rule: the store cannot name the verifier's services, handlers or server. It holds the two
//! leaves it needs itself, `clock` and `random`, which the verifier re-exports.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod clock;
mod connection;
mod error;
pub mod feed;
pub mod idp_events;
pub mod keys;
pub mod open;
pub mod outbox;
pub mod random;
pub mod scripts;
mod sentinel;
pub mod sessions;
pub mod sid;
pub mod target;

pub use connection::RedisConnection;
pub use error::StoreError;
use keys::{UserTag, GLOBAL_NOT_BEFORE};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, Pipeline, Value};
use scripts::{LuaScript, ScriptRef, Scripts};
use std::time::Duration;
use target::RedisTarget;
use warden_core::Reason;

/// The user's not-before (unix s) a revocation at `now` sets, for tokens without `ver`: the
/// revocation's second itself. `iat` has one-second granularity, so a token issued in that second
/// may predate the revocation and is refused with the rest (`iat` at or before it); a new login
/// is accepted from the next second on.
pub fn user_not_before(now: i64) -> i64 {
    now
}

/// What revoking a user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRevoked {
    /// The user's new version.
    pub version: u64,
    /// The user's not-before in force (this revocation's, or a later one's).
    pub not_before: i64,
    /// The sessions ended: sid and expiry (unix s).
    pub sessions: Vec<(String, i64)>,
}

/// How the store talks to Redis.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Bound on every Redis call (connect, command, reply).
    pub timeout: Duration,
    /// Replicas that must acknowledge each admin write (`WAIT`); 0 = the primary alone.
    pub min_replicas_ack: u32,
    /// How long `WAIT` may block.
    pub replica_ack_timeout: Duration,
}

/// What the per-user check script says (the global not-before is decided outside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserVerdict {
    Allow,
    Deny(Reason),
}

impl UserVerdict {
    fn parse(reply: &str) -> Result<UserVerdict, StoreError> {
        match reply {
            "allow" => Ok(UserVerdict::Allow),
            "revoked" => Ok(UserVerdict::Deny(Reason::Revoked)),
            "stale_version" => Ok(UserVerdict::Deny(Reason::StaleVersion)),
            "session_missing" => Ok(UserVerdict::Deny(Reason::SessionMissing)),
            "session_mismatch" => Ok(UserVerdict::Deny(Reason::SessionMismatch)),
            "user_revoked" => Ok(UserVerdict::Deny(Reason::UserRevoked)),
            other => Err(StoreError::UnexpectedReply(other.to_owned())),
        }
    }
}

/// The user's verdict, then the identity-provider session's (`Some(true)`: revoked).
fn with_idp_session(user: UserVerdict, idp_session_revoked: Option<bool>) -> UserVerdict {
    match (user, idp_session_revoked) {
        (UserVerdict::Allow, Some(true)) => UserVerdict::Deny(Reason::SessionRevoked),
        (verdict, _) => verdict,
    }
}

/// The per-user part of one check.
#[derive(Debug)]
pub struct UserCheck<'a> {
    pub tag: &'a UserTag,
    pub sub: &'a str,
    /// `None`: a token without `jti` (it cannot have been revoked by one).
    pub jti: Option<&'a str>,
    /// The token's `ver`; `None`: judged by the user's not-before instead.
    pub version: Option<u64>,
    /// The token's `iat` (for the user's not-before).
    pub iat: Option<i64>,
    /// The sid to look up in this user's slot, if any.
    pub sid: Option<&'a str>,
    /// The identity-provider session to look up (another slot), if any.
    pub idp_session: Option<IdpSession<'a>>,
    pub now: i64,
    pub last_seen_interval_seconds: u64,
}

/// A session of an identity provider: its issuer and its sid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdpSession<'a> {
    pub iss: &'a str,
    pub sid: &'a str,
}

/// One live session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub sid: String,
    pub device: Option<String>,
    pub created: i64,
    pub last_seen: i64,
    pub expires_at: i64,
}

/// A row of `LIST_SESSIONS`: sid, device ('' = none), created, last_seen, expires_at.
type SessionRow = (String, String, i64, i64, i64);

pub struct Store {
    connection: RedisConnection,
    options: StoreOptions,
    scripts: Scripts,
    /// Follow each admin write by `WAITAOF 1 <min_replicas_ack>` instead of `WAIT`.
    wait_aof: bool,
    /// Notified after each append to the feed ([`Store::feed_changed`]).
    feed_changed: tokio::sync::Notify,
}

/// How often a Sentinel-resolved master is checked against what the sentinels say.
pub const SENTINEL_WATCH_INTERVAL: Duration = Duration::from_millis(500);

fn is_noscript(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        || e.code() == Some("NOSCRIPT")
        || e.to_string().contains("NOSCRIPT")
}

impl Store {
    /// Builds the store without connecting: the connection is made on first use and remade
    /// whenever it breaks, so the service starts (and reports not ready) while Redis is down.
    pub fn new(client: redis::Client, options: StoreOptions) -> Result<Store, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout + options.replica_ack_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Store::with_connection(
            RedisConnection::Single(connection),
            options,
        ))
    }

    /// Builds the store for any topology without connecting (call from within the Tokio
    /// runtime: the cluster and sentinel clients run background tasks).
    pub fn connect(target: RedisTarget, options: StoreOptions) -> Result<Store, StoreError> {
        let response_timeout = options.timeout + options.replica_ack_timeout;
        let connection = match target {
            RedisTarget::Single(client) => return Store::new(client, options),
            RedisTarget::Cluster(client) => {
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(options.timeout)
                    .set_response_timeout(response_timeout);
                RedisConnection::Cluster(client.get_pending_async_connection_with_config(config))
            }
            RedisTarget::Sentinel(client) => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(options.timeout))
                    .set_response_timeout(Some(response_timeout));
                RedisConnection::Sentinel(sentinel::SentinelConnection::new(
                    client,
                    config,
                    options.timeout,
                    SENTINEL_WATCH_INTERVAL,
                ))
            }
        };
        Ok(Store::with_connection(connection, options))
    }

    fn with_connection(connection: RedisConnection, options: StoreOptions) -> Store {
        Store {
            connection,
            options,
            wait_aof: false,
            scripts: Scripts::default(),
            feed_changed: tokio::sync::Notify::new(),
        }
    }

    /// Acknowledge admin writes only once fsynced to the primary's AOF and to
    /// `min_replicas_ack` replicas' (`WAITAOF`, Redis ≥ 7.2 with `appendonly yes`).
    pub fn with_wait_aof(mut self, on: bool) -> Store {
        self.wait_aof = on;
        self
    }

    /// Sends every script of [`LuaScript::ALL`] with `SCRIPT LOAD` (on a cluster: to every
    /// master), so the first calls after a start find them cached. Calls still fall back to
    /// `EVAL` on `NOSCRIPT` (a promoted replica, a restarted node, `SCRIPT FLUSH`). Returns the
    /// script hashes, in the order of [`LuaScript::ALL`].
    pub async fn load_scripts(&self) -> Result<Vec<String>, StoreError> {
        let mut hashes = Vec::with_capacity(LuaScript::ALL.len());
        for which in LuaScript::ALL {
            let mut connection = self.connection.clone();
            let mut cmd = redis::cmd("SCRIPT");
            cmd.arg("LOAD").arg(which.source());
            let hash: String =
                tokio::time::timeout(self.options.timeout, cmd.query_async(&mut connection))
                    .await
                    .map_err(|_| StoreError::Timeout)??;
            hashes.push(hash);
        }
        Ok(hashes)
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.connection.is_cluster()
    }

    /// With `--wait-aof`: asks Redis whether it can do `WAITAOF` at all (Redis ≥ 7.2, AOF on).
    /// `Ok(false)` when Redis cannot be reached now (the writes will tell later).
    pub async fn probe_wait_aof(&self) -> Result<bool, String> {
        let mut connection = self.connection.clone();
        let mut cmd = redis::cmd("WAITAOF");
        cmd.arg(1).arg(0).arg(100);
        let reply = tokio::time::timeout(
            self.options.timeout + Duration::from_millis(100),
            cmd.query_async::<Value>(&mut connection),
        )
        .await;
        match reply {
            Err(_) => Ok(false),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) if e.is_io_error() || e.is_connection_refusal() || e.is_timeout() => {
                Ok(false)
            }
            Ok(Err(e)) => {
                let text = e.to_string();
                if text.to_ascii_lowercase().contains("unknown command") {
                    Err(format!(
                        "--wait-aof needs Redis 7.2 or later (the WAITAOF command); this server does not know it ({text})"
                    ))
                } else {
                    Err(format!(
                        "--wait-aof: Redis refuses WAITAOF: {text} (it needs appendonly yes)"
                    ))
                }
            }
        }
    }

    fn script(&self, which: LuaScript) -> ScriptRef<'_> {
        self.scripts.get(which)
    }

    /// The hash `EVALSHA` runs `which` by (what [`Store::load_scripts`] loads).
    pub fn script_hash(&self, which: LuaScript) -> String {
        self.scripts.hash(which)
    }

    /// Runs a pipeline built by `build(by_hash)` once by hash and, on NOSCRIPT, once more by source.
    async fn run<T: FromRedisValue>(
        &self,
        budget: Duration,
        build: impl Fn(bool) -> Pipeline,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        let first = tokio::time::timeout(budget, build(true).query_async::<T>(&mut connection))
            .await
            .map_err(|_| StoreError::Timeout)?;
        match first {
            Ok(value) => Ok(value),
            Err(e) if is_noscript(&e) => {
                // Normal on the first call after a start or a Redis restart.
                tracing::debug!("scripts not cached in redis yet; sending them");
                tokio::time::timeout(budget, build(false).query_async::<T>(&mut connection))
                    .await
                    .map_err(|_| StoreError::Timeout)?
                    .map_err(StoreError::from)
            }
            Err(e) => Err(StoreError::from(e)),
        }
    }

    /// Runs one write command, followed by `WAIT` when replicas must acknowledge it.
    async fn write<T: FromRedisValue>(&self, build: impl Fn(bool) -> Cmd) -> Result<T, StoreError> {
        let replicas = self.options.min_replicas_ack;
        let wait_ms =
            u64::try_from(self.options.replica_ack_timeout.as_millis()).unwrap_or(u64::MAX);
        let budget = self.options.timeout + self.options.replica_ack_timeout;
        let values: Vec<Value> = self
            .run(budget, |by_hash| {
                let mut pipe = redis::pipe();
                pipe.add_command(build(by_hash));
                if self.wait_aof {
                    pipe.cmd("WAITAOF").arg(1).arg(replicas).arg(wait_ms);
                } else if replicas > 0 {
                    pipe.cmd("WAIT").arg(replicas).arg(wait_ms);
                }
                pipe
            })
            .await?;
        let mut values = values.into_iter();
        let reply = values
            .next()
            .ok_or_else(|| StoreError::UnexpectedReply("empty pipeline reply".into()))?;
        if self.wait_aof {
            let (local, acked): (i64, i64) = redis::from_redis_value(
                values
                    .next()
                    .ok_or_else(|| StoreError::UnexpectedReply("no WAITAOF reply".into()))?,
            )?;
            if local < 1 || acked < i64::from(replicas) {
                return Err(StoreError::NotFsynced {
                    local,
                    replicas: acked,
                    wanted: replicas,
                });
            }
        } else if replicas > 0 {
            let acked: i64 = redis::from_redis_value(
                values
                    .next()
                    .ok_or_else(|| StoreError::UnexpectedReply("no WAIT reply".into()))?,
            )?;
            if acked < i64::from(replicas) {
                return Err(StoreError::ReplicationTimeout {
                    acked,
                    wanted: replicas,
                });
            }
        }
        Ok(redis::from_redis_value(reply)?)
    }

    /// PING, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let reply: String = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("PING");
                pipe
            })
            .await
            .map(|(reply,): (String,)| reply)?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(StoreError::UnexpectedReply(reply))
        }
    }

    /// The per-user check, in one round trip: the user's script, with the global not-before
    /// (`read_not_before`: returned as `Some(value)`) and the identity-provider session
    /// (`query.idp_session`) read beside it. The user's answer comes first (`revoked`,
    /// `stale_version` / `user_revoked`, the Warden session's), then `session_revoked`.
    pub async fn check(
        &self,
        query: &UserCheck<'_>,
        read_not_before: bool,
    ) -> Result<(UserVerdict, Option<Option<i64>>), StoreError> {
        let version_key = query.tag.version_key();
        let jti_key = query.tag.revoked_jti_key(query.jti.unwrap_or_default());
        let session_key = query
            .sid
            .map(|sid| query.tag.session_key(sid))
            .unwrap_or_else(|| query.tag.session_key("-"));
        let not_before_key = query.tag.not_before_key();
        let idp_key = query
            .idp_session
            .map(|session| keys::idp_session_key(session.iss, session.sid));
        let version = query.version.map(|v| v.to_string()).unwrap_or_default();
        let iat = query.iat.map(|v| v.to_string()).unwrap_or_default();
        let now = query.now.to_string();
        let check_session = if query.sid.is_some() { "1" } else { "0" };
        let check_jti = if query.jti.is_some() { "1" } else { "0" };
        let interval = query.last_seen_interval_seconds.to_string();
        let keys = [
            version_key.as_str(),
            jti_key.as_str(),
            session_key.as_str(),
            not_before_key.as_str(),
        ];
        let args = [
            version.as_str(),
            now.as_str(),
            query.sub,
            check_session,
            interval.as_str(),
            iat.as_str(),
            check_jti,
        ];
        let script = self.script(LuaScript::Check);
        if self.connection.is_cluster() && (read_not_before || idp_key.is_some()) {
            // The global key and the provider's session live in their own slots, likely on other
            // nodes: read them beside the user's script, not in its pipeline, so the check stays
            // one round trip on each slot, all at once.
            let user = async {
                let (verdict,): (String,) = self
                    .run(self.options.timeout, |by_hash| {
                        let mut pipe = redis::pipe();
                        pipe.add_command(script.cmd(by_hash, &keys, &args));
                        pipe
                    })
                    .await?;
                Ok::<_, StoreError>(verdict)
            };
            let global = async {
                match read_not_before {
                    true => self.read_not_before().await.map(Some),
                    false => Ok(None),
                }
            };
            let idp = async {
                match &idp_key {
                    Some(key) => self.key_exists(key).await.map(Some),
                    None => Ok(None),
                }
            };
            let (verdict, not_before, idp) = tokio::join!(user, global, idp);
            let verdict = with_idp_session(UserVerdict::parse(&verdict?)?, idp?);
            return Ok((verdict, not_before?));
        }
        let values: Vec<Value> = self
            .run(self.options.timeout, |by_hash| {
                let mut pipe = redis::pipe();
                if read_not_before {
                    pipe.cmd("GET").arg(GLOBAL_NOT_BEFORE);
                }
                pipe.add_command(script.cmd(by_hash, &keys, &args));
                if let Some(key) = &idp_key {
                    pipe.cmd("EXISTS").arg(key);
                }
                pipe
            })
            .await?;
        let mut values = values.into_iter();
        let mut next = || {
            values
                .next()
                .ok_or_else(|| StoreError::UnexpectedReply("short check reply".into()))
        };
        let not_before = match read_not_before {
            true => Some(redis::from_redis_value::<Option<i64>>(next()?)?),
            false => None,
        };
        let verdict: String = redis::from_redis_value(next()?)?;
        let idp = match idp_key {
            Some(_) => Some(redis::from_redis_value::<i64>(next()?)? == 1),
            None => None,
        };
        Ok((
            with_idp_session(UserVerdict::parse(&verdict)?, idp),
            not_before,
        ))
    }

    async fn key_exists(&self, key: &str) -> Result<bool, StoreError> {
        let (exists,): (i64,) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("EXISTS").arg(key);
                pipe
            })
            .await?;
        Ok(exists == 1)
    }

    /// Marks session `sid` of the identity provider `iss` revoked until `until` (unix s). A
    /// re-revocation never shortens it.
    pub async fn revoke_idp_session(
        &self,
        iss: &str,
        sid: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        let key = keys::idp_session_key(iss, sid);
        let until = until.to_string();
        // The jti script's rule is this one's: set with an expiry that only ever lengthens.
        let script = self.script(LuaScript::RevokeJti);
        let _: i64 = self
            .write(|by_hash| script.cmd(by_hash, &[key.as_str()], &[until.as_str()]))
            .await?;
        Ok(())
    }

    /// Whether a live session record exists under this key (used only when a sid names another
    /// user's slot, to tell `session_mismatch` from `session_missing`).
    pub async fn session_exists(&self, owner: &UserTag, sid: &str) -> Result<bool, StoreError> {
        self.key_exists(&owner.session_key(sid)).await
    }

    /// Global not-before alone (when the cache is stale and no check is going out).
    pub async fn read_not_before(&self) -> Result<Option<i64>, StoreError> {
        let (value,): (Option<i64>,) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("GET").arg(GLOBAL_NOT_BEFORE);
                pipe
            })
            .await?;
        Ok(value)
    }

    /// Marks a jti revoked until `expire_at` (unix seconds), or for good with `None`. An
    /// existing entry is only ever lengthened.
    pub async fn revoke_token(
        &self,
        tag: &UserTag,
        jti: &str,
        expire_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let key = tag.revoked_jti_key(jti);
        let expire_at = expire_at.map(|t| t.to_string()).unwrap_or_default();
        let script = self.script(LuaScript::RevokeJti);
        let _: i64 = self
            .write(|by_hash| script.cmd(by_hash, &[key.as_str()], &[expire_at.as_str()]))
            .await?;
        Ok(())
    }

    /// Bumps the user's version, raises their not-before to [`user_not_before`]`(now)` and ends
    /// all their sessions; returns the new version, the not-before in force and the sessions it
    /// ended.
    pub async fn revoke_user(&self, tag: &UserTag, now: i64) -> Result<UserRevoked, StoreError> {
        let version_key = tag.version_key();
        let sessions_key = tag.sessions_key();
        let not_before_key = tag.not_before_key();
        let prefix = tag.session_key_prefix();
        let not_before = user_not_before(now).to_string();
        let script = self.script(LuaScript::RevokeUser);
        let reply: Vec<String> = self
            .write(|by_hash| {
                script.cmd(
                    by_hash,
                    &[
                        version_key.as_str(),
                        sessions_key.as_str(),
                        not_before_key.as_str(),
                    ],
                    &[prefix.as_str(), not_before.as_str()],
                )
            })
            .await?;
        let bad = || StoreError::UnexpectedReply(format!("revoke_user reply {reply:?}"));
        let mut it = reply.iter();
        let version = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let not_before = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let mut sessions = Vec::new();
        while let Some(sid) = it.next() {
            let expires_at = it
                .next()
                .and_then(|at| at.parse::<f64>().ok())
                .ok_or_else(bad)?;
            sessions.push((sid.clone(), expires_at as i64));
        }
        Ok(UserRevoked {
            version,
            not_before,
            sessions,
        })
    }

    pub async fn create_session(
        &self,
        tag: &UserTag,
        sid: &str,
        sub: &str,
        device: Option<&str>,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let session_key = tag.session_key(sid);
        let sessions_key = tag.sessions_key();
        let now = now.to_string();
        let expires_at = expires_at.to_string();
        let script = self.script(LuaScript::CreateSession);
        let _: i64 = self
            .write(|by_hash| {
                script.cmd(
                    by_hash,
                    &[session_key.as_str(), sessions_key.as_str()],
                    &[
                        sub,
                        device.unwrap_or(""),
                        now.as_str(),
                        expires_at.as_str(),
                        sid,
                    ],
                )
            })
            .await?;
        Ok(())
    }

    pub async fn list_sessions(
        &self,
        tag: &UserTag,
        now: i64,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let sessions_key = tag.sessions_key();
        let prefix = tag.session_key_prefix();
        let now = now.to_string();
        let script = self.script(LuaScript::ListSessions);
        let (rows,): (Vec<SessionRow>,) = self
            .run(self.options.timeout, |by_hash| {
                let mut pipe = redis::pipe();
                pipe.add_command(script.cmd(
                    by_hash,
                    &[sessions_key.as_str()],
                    &[now.as_str(), prefix.as_str()],
                ));
                pipe
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(sid, device, created, last_seen, expires_at)| SessionRecord {
                    sid,
                    device: (!device.is_empty()).then_some(device),
                    created,
                    last_seen,
                    expires_at,
                },
            )
            .collect())
    }

    /// Deletes one session; `false` when there was none.
    pub async fn delete_session(&self, tag: &UserTag, sid: &str) -> Result<bool, StoreError> {
        let session_key = tag.session_key(sid);
        let sessions_key = tag.sessions_key();
        let script = self.script(LuaScript::DeleteSession);
        let deleted: i64 = self
            .write(|by_hash| {
                script.cmd(
                    by_hash,
                    &[session_key.as_str(), sessions_key.as_str()],
                    &[sid],
                )
            })
            .await?;
        Ok(deleted == 1)
    }

    /// Raises the global not-before to `now`; returns the value in force.
    pub async fn revoke_all(&self, now: i64) -> Result<i64, StoreError> {
        let now = now.to_string();
        let script = self.script(LuaScript::RevokeAll);
        self.write(|by_hash| script.cmd(by_hash, &[GLOBAL_NOT_BEFORE], &[now.as_str()]))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_revocation_refuses_its_own_second_and_allows_the_next() {
        let now = 1_800_000_000;
        let not_before = user_not_before(now);
        // What check.lua does with a token without `ver`: iat at or before the not-before.
        let refused = |iat: i64| iat <= not_before;
        assert!(refused(now - 1));
        assert!(
            refused(now),
            "a token of the revocation's second may predate it"
        );
        assert!(
            !refused(now + 1),
            "a login after the revocation is accepted"
        );
    }

    #[test]
    fn the_users_answer_comes_before_the_providers_session() {
        let stale = UserVerdict::Deny(Reason::StaleVersion);
        assert_eq!(with_idp_session(stale, Some(true)), stale);
        assert_eq!(
            with_idp_session(UserVerdict::Allow, Some(true)),
            UserVerdict::Deny(Reason::SessionRevoked)
        );
        assert_eq!(
            with_idp_session(UserVerdict::Allow, Some(false)),
            UserVerdict::Allow
        );
        assert_eq!(
            with_idp_session(UserVerdict::Allow, None),
            UserVerdict::Allow
        );
        assert_eq!(
            UserVerdict::parse("user_revoked").unwrap(),
            UserVerdict::Deny(Reason::UserRevoked)
        );
    }
}
