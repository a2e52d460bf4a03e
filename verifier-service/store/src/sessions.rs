//! Sessions with refresh families, the rate-limit budgets and the audit stream: the store calls of
//! the token life cycle. Each family change is one script on the user's slot; a script that ends
//! the session also leaves the end in the user's feed outbox (see `store::outbox`), for the
//! caller to relay to the feed.
//!
//! A refresh family lives in its session record (`warden:{T}:session:<sid>`), beside the fields the
//! check reads: `rt` (SHA-256 of the current refresh token), `rt_iat`, `rt_idle` (its idle expiry),
//! `prev` (SHA-256 of the immediate predecessor), `prev_until` (end of its retry grace), `prev_box`
//! (the current token sealed under a key only the predecessor yields), `claims` (extra access-token
//! claims). Rotated hashes go to `warden:{T}:rtused:<sid>`, so a replayed old token is recognised
//! as one of this family (theft) rather than as a stranger's guess (which must not end anything).
//! The scripts are `store/lua/{create_with_refresh, refresh, revoke_refresh, introspect_refresh,
//! rate}.lua`.
//!
//! Their keys are listed in `store::keys`.

use super::keys::{outbox_key, UserTag, EVENTS_STREAM};
// Part of the token life cycle's API: its callers build rate keys from here.
pub use super::keys::{address_rate_key, rotated_key, session_rate_key};
use super::scripts::LuaScript;
use super::{Store, StoreError};

/// Approximate cap of the audit stream (`XADD MAXLEN ~`).
pub const EVENTS_MAX_LEN: u64 = 100_000;

/// When Redis may drop the record of a session that owns a refresh family, after it was created
/// or rotated at `now`: while its refresh token may still be used (idle expiry) or an access token
/// issued now may still be presented, whichever is later, and never after the session's own
/// expiry (`expires_at`). The refresh script receives [`record_keep_until`] and applies the
/// last `min` itself, since only it reads the session's expiry (from the record).
pub fn session_record_expiry(
    now: i64,
    idle_ttl_seconds: u64,
    access_ttl_seconds: u64,
    expires_at: i64,
) -> i64 {
    record_keep_until(now, idle_ttl_seconds, access_ttl_seconds).min(expires_at)
}

/// [`session_record_expiry`] before the cap at the session's expiry: the later of the refresh
/// token's idle expiry and an access token's expiry, both counted from `now`.
pub fn record_keep_until(now: i64, idle_ttl_seconds: u64, access_ttl_seconds: u64) -> i64 {
    let seconds = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
    now.saturating_add(seconds(idle_ttl_seconds))
        .max(now.saturating_add(seconds(access_ttl_seconds)))
}

/// A new session that owns a refresh family.
#[derive(Debug)]
pub struct NewFamily<'a> {
    pub tag: &'a UserTag,
    pub sid: &'a str,
    pub sub: &'a str,
    pub device: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
    /// SHA-256 (hex) of the first refresh token.
    pub refresh_hash: &'a str,
    pub refresh_idle_until: i64,
    /// When Redis may drop the record: [`session_record_expiry`].
    pub record_until: i64,
    pub claims_json: &'a str,
}

/// One refresh call.
#[derive(Debug)]
pub struct RefreshCall<'a> {
    pub tag: &'a UserTag,
    pub sid: &'a str,
    pub presented_hash: &'a str,
    pub successor_hash: &'a str,
    /// The successor token sealed under a key derived from the presented one.
    pub successor_sealed: &'a str,
    pub now: i64,
    pub now_ms: i64,
    pub idle_ttl_seconds: u64,
    pub retry_grace_seconds: u64,
    /// Answers the retry grace gives one predecessor (0: no bound); past them it is reuse.
    pub retry_max_uses: u64,
    pub access_ttl_seconds: u64,
    pub not_before: Option<i64>,
    pub rate_per_minute: u32,
}

/// The family's state as a refresh leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyGrant {
    pub sub: String,
    pub version: u64,
    pub expires_at: i64,
    pub claims_json: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The presented token was current: the successor is now current.
    Rotated(FamilyGrant),
    /// The presented token is the immediate predecessor, within its grace: the current token,
    /// sealed under the presented one, is handed back.
    Grace { grant: FamilyGrant, sealed: String },
    /// The session's budget is spent.
    Limited { sub: String, retry_after: u64 },
    /// An already rotated token came back: the family and its session are ended.
    ReuseDetected { sub: String },
    /// Idle or absolute expiry: the family and its session are ended.
    Expired { sub: String },
    /// The session was created at or before the global not-before: ended.
    RevokedAll { sub: String },
    /// Not a token of a live family.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeRefreshOutcome {
    Ended { sub: String },
    Limited { sub: String, retry_after: u64 },
    Unknown,
}

/// A live refresh token, for introspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshInfo {
    pub sub: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

fn field(reply: &[String], index: usize) -> Result<&str, StoreError> {
    reply
        .get(index)
        .map(String::as_str)
        .ok_or_else(|| StoreError::UnexpectedReply(format!("short script reply {reply:?}")))
}

fn number<T: std::str::FromStr>(reply: &[String], index: usize) -> Result<T, StoreError> {
    let text = field(reply, index)?;
    text.parse()
        .map_err(|_| StoreError::UnexpectedReply(format!("not a number: {text}")))
}

fn grant(reply: &[String]) -> Result<FamilyGrant, StoreError> {
    Ok(FamilyGrant {
        sub: field(reply, 1)?.to_owned(),
        version: number(reply, 2)?,
        expires_at: number(reply, 3)?,
        claims_json: field(reply, 4)?.to_owned(),
    })
}

impl Store {
    /// Creates a session with its refresh family; returns the user's current version.
    pub async fn create_session_with_refresh(
        &self,
        family: &NewFamily<'_>,
    ) -> Result<u64, StoreError> {
        let session_key = family.tag.session_key(family.sid);
        let sessions_key = family.tag.sessions_key();
        let version_key = family.tag.version_key();
        let rotated = rotated_key(family.tag, family.sid);
        let (now, expires_at, idle, until) = (
            family.now.to_string(),
            family.expires_at.to_string(),
            family.refresh_idle_until.to_string(),
            family.record_until.to_string(),
        );
        let script = self.script(LuaScript::CreateWithRefresh);
        self.write(|by_hash| {
            script.cmd(
                by_hash,
                &[
                    session_key.as_str(),
                    sessions_key.as_str(),
                    version_key.as_str(),
                    rotated.as_str(),
                ],
                &[
                    family.sub,
                    family.device.unwrap_or(""),
                    now.as_str(),
                    expires_at.as_str(),
                    family.sid,
                    family.refresh_hash,
                    idle.as_str(),
                    until.as_str(),
                    family.claims_json,
                ],
            )
        })
        .await
    }

    /// One atomic refresh step of a family (rotation, grace replay, or the end of the family).
    pub async fn refresh(&self, call: &RefreshCall<'_>) -> Result<RefreshOutcome, StoreError> {
        let keys = [
            call.tag.session_key(call.sid),
            rotated_key(call.tag, call.sid),
            call.tag.version_key(),
            session_rate_key(call.tag, call.sid),
            call.tag.sessions_key(),
            outbox_key(call.tag),
        ];
        let args = [
            call.presented_hash.to_owned(),
            call.successor_hash.to_owned(),
            call.successor_sealed.to_owned(),
            call.now.to_string(),
            call.now_ms.to_string(),
            call.idle_ttl_seconds.to_string(),
            call.retry_grace_seconds.to_string(),
            call.not_before.map(|t| t.to_string()).unwrap_or_default(),
            call.rate_per_minute.to_string(),
            record_keep_until(call.now, call.idle_ttl_seconds, call.access_ttl_seconds).to_string(),
            call.sid.to_owned(),
            call.retry_max_uses.to_string(),
        ];
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let script = self.script(LuaScript::Refresh);
        let reply: Vec<String> = self
            .write(|by_hash| script.cmd(by_hash, &keys, &args))
            .await?;
        let sub = || field(&reply, 1).map(str::to_owned);
        match field(&reply, 0)? {
            "rotated" => Ok(RefreshOutcome::Rotated(grant(&reply)?)),
            "grace" => Ok(RefreshOutcome::Grace {
                grant: grant(&reply)?,
                sealed: field(&reply, 5)?.to_owned(),
            }),
            "limited" => Ok(RefreshOutcome::Limited {
                sub: sub()?,
                retry_after: number(&reply, 2)?,
            }),
            "reuse" => Ok(RefreshOutcome::ReuseDetected { sub: sub()? }),
            "expired" => Ok(RefreshOutcome::Expired { sub: sub()? }),
            "revoked_all" => Ok(RefreshOutcome::RevokedAll { sub: sub()? }),
            "invalid" => Ok(RefreshOutcome::Invalid),
            other => Err(StoreError::UnexpectedReply(other.to_owned())),
        }
    }

    /// Ends the family (and session) a refresh token belongs to, if it belongs to one.
    pub async fn revoke_refresh_family(
        &self,
        tag: &UserTag,
        sid: &str,
        presented_hash: &str,
        now_ms: i64,
        rate_per_minute: u32,
    ) -> Result<RevokeRefreshOutcome, StoreError> {
        let keys = [
            tag.session_key(sid),
            rotated_key(tag, sid),
            session_rate_key(tag, sid),
            tag.sessions_key(),
            outbox_key(tag),
        ];
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (now_ms, rate) = (now_ms.to_string(), rate_per_minute.to_string());
        let script = self.script(LuaScript::RevokeRefresh);
        let reply: Vec<String> = self
            .write(|by_hash| {
                script.cmd(
                    by_hash,
                    &keys,
                    &[presented_hash, now_ms.as_str(), rate.as_str(), sid],
                )
            })
            .await?;
        match field(&reply, 0)? {
            "ended" => Ok(RevokeRefreshOutcome::Ended {
                sub: field(&reply, 1)?.to_owned(),
            }),
            "limited" => Ok(RevokeRefreshOutcome::Limited {
                sub: field(&reply, 1)?.to_owned(),
                retry_after: number(&reply, 2)?,
            }),
            "unknown" => Ok(RevokeRefreshOutcome::Unknown),
            other => Err(StoreError::UnexpectedReply(other.to_owned())),
        }
    }

    /// The live refresh token's facts, or `None` when it is not the family's current one.
    pub async fn introspect_refresh(
        &self,
        tag: &UserTag,
        sid: &str,
        presented_hash: &str,
        now: i64,
        not_before: Option<i64>,
    ) -> Result<Option<RefreshInfo>, StoreError> {
        let key = tag.session_key(sid);
        let now = now.to_string();
        let not_before = not_before.map(|t| t.to_string()).unwrap_or_default();
        let script = self.script(LuaScript::IntrospectRefresh);
        let (reply,): (Vec<String>,) = self
            .run(self.options.timeout, |by_hash| {
                let mut pipe = redis::pipe();
                pipe.add_command(script.cmd(
                    by_hash,
                    &[key.as_str()],
                    &[presented_hash, now.as_str(), not_before.as_str()],
                ));
                pipe
            })
            .await?;
        match field(&reply, 0)? {
            "active" => Ok(Some(RefreshInfo {
                sub: field(&reply, 1)?.to_owned(),
                issued_at: number(&reply, 2)?,
                expires_at: number(&reply, 3)?,
            })),
            "inactive" => Ok(None),
            other => Err(StoreError::UnexpectedReply(other.to_owned())),
        }
    }

    /// Charges one request to the budget under `key`; `Some(seconds)` to wait when it is spent.
    pub async fn charge_rate(
        &self,
        key: &str,
        now_ms: i64,
        rate_per_minute: u32,
    ) -> Result<Option<u64>, StoreError> {
        let (now_ms, rate) = (now_ms.to_string(), rate_per_minute.to_string());
        let script = self.script(LuaScript::Rate);
        let (wait,): (u64,) = self
            .run(self.options.timeout, |by_hash| {
                let mut pipe = redis::pipe();
                pipe.add_command(script.cmd(by_hash, &[key], &[now_ms.as_str(), rate.as_str()]));
                pipe
            })
            .await?;
        Ok((wait > 0).then_some(wait))
    }

    /// Appends one audit event to the capped stream.
    pub async fn append_event(&self, fields: &[(&str, String)]) -> Result<(), StoreError> {
        let _: String = self
            .run(self.options.timeout, |_| {
                let mut cmd = redis::cmd("XADD");
                cmd.arg(EVENTS_STREAM)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(EVENTS_MAX_LEN)
                    .arg("*");
                for (name, value) in fields {
                    cmd.arg(*name).arg(value);
                }
                let mut pipe = redis::pipe();
                pipe.add_command(cmd);
                pipe
            })
            .await
            .map(|(id,): (String,)| id)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lives_while_its_refresh_or_access_token_may_be_used_but_not_past_the_session() {
        // The idle expiry is the later one.
        assert_eq!(session_record_expiry(1_000, 600, 300, 100_000), 1_600);
        // An access token outlives the idle window.
        assert_eq!(session_record_expiry(1_000, 60, 300, 100_000), 1_300);
        // Never past the session's own expiry.
        assert_eq!(session_record_expiry(1_000, 600, 300, 1_200), 1_200);
        assert_eq!(session_record_expiry(1_000, 600, 300, 900), 900);
        // No overflow at the edges.
        assert_eq!(
            session_record_expiry(i64::MAX - 1, u64::MAX, 0, i64::MAX),
            i64::MAX
        );
        assert_eq!(record_keep_until(1_000, 600, 300), 1_600);
        assert_eq!(record_keep_until(1_000, 0, u64::MAX), i64::MAX);
    }
}
