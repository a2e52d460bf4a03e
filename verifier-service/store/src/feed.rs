//! The revocation feed: every change that can deny a token gets a strictly increasing sequence
//! number, and the feed keeps a bounded copy of the revocation state beside it, so a snapshot is
//! one read of one slot.
//!
//! Its keys are listed in `store::keys`.
//!
//! All feed keys share the `{feed}` hash tag: one script appends an entry and updates the state
//! atomically, also on Redis Cluster. A user's keys live on other slots, so no script can do
//! both; the feed entry is written FIRST and the change after it. An acknowledged change thus
//! always has its entry; an entry whose change then failed only denies what the caller meant to
//! deny.
//!
//! Session ends decided inside a refresh script cannot be announced first: the script leaves
//! them in the user's outbox, atomically with the end, and they are relayed here afterwards
//! (`store::outbox`, `crate::outbox`); a snapshot lists no session whose record is gone.
//!
//! Session starts are appended AFTER the session record is stored too, but by choice: they
//! allow rather than deny. A start whose entry failed is merely unknown to the filters, which
//! then ask the verifier about its tokens.
//!
//! Sequence numbers start at the time in ms × 1000 when the counter is created, so a feed rebuilt
//! after Redis lost ALL its data starts above every number a filter holds as its cursor. That
//! does not cover losing only the LAST writes (a failover to a replica that lagged, a restart
//! from an older RDB or AOF): the counter and the log roll back together, and the next entries
//! reuse numbers filters already passed. Hence every entry also gets a random id (64 bits from
//! the OS, base64url), stored in the entry beside the change and, for the head, in
//! `warden:{feed}:seq_id`: a cursor is (seq, id), and [`Store::read_feed`] answers changes only
//! when the feed still holds entry `seq` with that id (else the reader needs a snapshot). Entries
//! written before ids existed have none; a cursor on one is checked by its number alone.

use super::keys::{
    UserTag, FEED_IDP_SESSIONS, FEED_JTIS, FEED_LIVE, FEED_LOG, FEED_NOT_BEFORE, FEED_SEQ,
    FEED_SEQ_ID, FEED_SESSIONS, FEED_USER_NOT_BEFORES, FEED_VERSIONS,
};
use super::outbox::EndWindow;
use super::scripts::LuaScript;
use super::{Store, StoreError};
use tokio::sync::Notify;
use warden_core::protocol::feed::{
    Change, EndedSession, FeedEntry, LiveSession, RevokedIdpSession, RevokedJti, Snapshot,
    UserVersion,
};

/// Entries kept in the log (approximately); a filter further behind gets a snapshot.
pub const FEED_MAX_LEN: u64 = 100_000;

/// The feed entries written ahead of a user revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRevocationFeed {
    /// The version the revocation will at least reach.
    pub version: u64,
    /// The sessions whose end was announced.
    pub sids: Vec<String>,
}

/// What a reader of the feed gets for a cursor.
#[derive(Debug, PartialEq, Eq)]
pub enum FeedRead {
    /// The changes after the cursor (maybe none yet), and the id the feed holds for the cursor's
    /// entry (`None`: an entry from before ids).
    Changes {
        after_id: Option<String>,
        entries: Vec<FeedEntry>,
    },
    /// The cursor is unknown, trimmed, or names an entry the feed no longer holds (another id
    /// at that number: the feed was rolled back): the reader needs a snapshot.
    Gone,
}

/// The feed's head: the last seq given (0: no feed yet) and its entry's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedHead {
    pub seq: u64,
    pub id: Option<String>,
}

/// A fresh entry id: 64 random bits, base64url (11 characters).
fn new_entry_id() -> Result<String, StoreError> {
    let bytes = crate::random::bytes::<8>()
        .map_err(|e| StoreError::UnexpectedReply(format!("{e} for a feed entry id")))?;
    Ok(warden_core::b64::encode(&bytes))
}

/// Whether an entry whose id is `held` is the one a reader's cursor names (`wanted`; a reader
/// without an id is checked by the number alone).
fn same_entry(held: Option<&str>, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|wanted| held == Some(wanted))
}

/// Where a change goes in the feed's state: its kind, set member, score, and an extra value (a
/// user change's not-before; empty for none and for the other kinds).
#[derive(Debug, PartialEq, Eq)]
struct StateArgs {
    kind: &'static str,
    member: String,
    score: String,
    extra: String,
}

/// The `["a","b"]` member of a pair (a revoked jti's sub and jti, an IdP session's iss and sid).
fn pair_member(a: &str, b: &str) -> Result<String, StoreError> {
    serde_json::to_string(&(a, b)).map_err(|e| StoreError::UnexpectedReply(e.to_string()))
}

fn state_args(change: &Change) -> Result<StateArgs, StoreError> {
    let args = |kind, member, score: String| StateArgs {
        kind,
        member,
        score,
        extra: String::new(),
    };
    Ok(match change {
        Change::Jti { sub, jti, until } => args(
            "jti",
            pair_member(sub, jti)?,
            until.map_or_else(|| "+inf".to_owned(), |u| u.to_string()),
        ),
        Change::User {
            sub,
            version,
            not_before,
        } => StateArgs {
            extra: not_before.map(|nb| nb.to_string()).unwrap_or_default(),
            ..args("user", sub.clone(), version.to_string())
        },
        Change::Session { sid, until } => args("session", sid.clone(), until.to_string()),
        Change::SessionStart { sid, until } => args("start", sid.clone(), until.to_string()),
        Change::NotBefore { not_before } => {
            args("not_before", String::new(), not_before.to_string())
        }
        Change::IdpSession { iss, sid, until } => {
            args("idp_session", pair_member(iss, sid)?, until.to_string())
        }
    })
}

fn unix_ms() -> u64 {
    crate::clock::unix_now_ms()
        .ok()
        .and_then(|ms| u64::try_from(ms).ok())
        .unwrap_or(0)
}

fn parse_seq(id: &str) -> Result<u64, StoreError> {
    id.split_once('-')
        .and_then(|(seq, _)| seq.parse().ok())
        .ok_or_else(|| StoreError::UnexpectedReply(format!("feed entry id {id}")))
}

/// The reply of `MGET seq seq_id`.
fn parse_head(reply: Vec<Option<String>>) -> Result<FeedHead, StoreError> {
    let mut reply = reply.into_iter();
    let seq = match reply.next().flatten() {
        None => 0,
        Some(text) => text
            .parse()
            .map_err(|_| StoreError::UnexpectedReply(format!("feed seq {text}")))?,
    };
    Ok(FeedHead {
        seq,
        id: reply.next().flatten(),
    })
}

/// The id field (`i`) of a log entry's fields, if it has one.
fn entry_id(fields: Vec<String>) -> Option<String> {
    pairs(fields).find(|(name, _)| name == "i").map(|(_, v)| v)
}

fn parse_score(score: &str) -> Result<Option<i64>, StoreError> {
    match score {
        "inf" | "+inf" => Ok(None),
        text => text
            .parse::<f64>()
            .map(|f| Some(f as i64))
            .map_err(|_| StoreError::UnexpectedReply(format!("feed score {text}"))),
    }
}

fn pairs(flat: Vec<String>) -> impl Iterator<Item = (String, String)> {
    let mut it = flat.into_iter();
    std::iter::from_fn(move || Some((it.next()?, it.next()?)))
}

impl Store {
    /// Wakes when this store appended to the feed (or spuriously): the long-polls served by this
    /// store wait on it; they also re-read on a short interval, for changes appended by other
    /// verifier instances.
    pub fn feed_changed(&self) -> &Notify {
        &self.feed_changed
    }

    /// Gives `changes` their sequence numbers and records them. Call it BEFORE making the change
    /// itself, and acknowledge the change only after both succeeded. Returns the last number.
    pub async fn append_feed(&self, changes: &[Change], now: i64) -> Result<u64, StoreError> {
        let mut args = vec![
            unix_ms().saturating_mul(1000).to_string(),
            FEED_MAX_LEN.to_string(),
            now.to_string(),
        ];
        for change in changes {
            let state = state_args(change)?;
            args.push(
                serde_json::to_string(change)
                    .map_err(|e| StoreError::UnexpectedReply(e.to_string()))?,
            );
            args.extend([
                state.kind.to_owned(),
                state.member,
                state.score,
                new_entry_id()?,
                state.extra,
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let keys = [
            FEED_SEQ,
            FEED_LOG,
            FEED_JTIS,
            FEED_VERSIONS,
            FEED_SESSIONS,
            FEED_NOT_BEFORE,
            FEED_LIVE,
            FEED_SEQ_ID,
            FEED_USER_NOT_BEFORES,
            FEED_IDP_SESSIONS,
        ];
        let script = self.script(LuaScript::FeedAppend);
        let seq: u64 = self
            .write(|by_hash| script.cmd(by_hash, &keys, &args))
            .await?;
        self.feed_changed.notify_waiters();
        Ok(seq)
    }

    /// The changes after `after` (at most `limit`), or `Gone` when the feed no longer holds the
    /// entry `after` itself (trimmed, or a number this feed never gave) or holds another entry
    /// there than the reader's (`after_id`, when given: the number was reused after a rollback).
    /// The cursor's entry is read by the same `XRANGE` as the changes, so they belong together.
    pub async fn read_feed(
        &self,
        after: u64,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<FeedRead, StoreError> {
        let start = format!("{after}-0");
        type LogEntries = Vec<(String, Vec<String>)>;
        let (head, entries): (Vec<Option<String>>, LogEntries) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("MGET").arg(FEED_SEQ).arg(FEED_SEQ_ID);
                pipe.cmd("XRANGE")
                    .arg(FEED_LOG)
                    .arg(&start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(limit.saturating_add(1));
                pipe
            })
            .await?;
        let head = parse_head(head)?;
        let mut entries = entries.into_iter();
        let cursor = match entries.next() {
            Some((id, fields)) if id == start => Some(entry_id(fields)),
            _ => None,
        };
        let in_log = cursor.is_some();
        let after_id_held = match cursor {
            Some(held) => held,
            // Not in the log: nothing after it when it is the head itself; anything else is a gap.
            None if after == head.seq => head.id,
            None => return Ok(FeedRead::Gone),
        };
        if !same_entry(after_id_held.as_deref(), after_id) {
            return Ok(FeedRead::Gone);
        }
        if !in_log {
            return Ok(FeedRead::Changes {
                after_id: after_id_held,
                entries: Vec::new(),
            });
        }
        let mut out = Vec::with_capacity(limit.min(entries.len()));
        for (id, fields) in entries {
            let seq = parse_seq(&id)?;
            let mut json = None;
            let mut entry_id = None;
            for (name, value) in pairs(fields) {
                match name.as_str() {
                    "c" => json = Some(value),
                    "i" => entry_id = Some(value),
                    _ => {}
                }
            }
            let json =
                json.ok_or_else(|| StoreError::UnexpectedReply(format!("feed entry {id}")))?;
            let change: Change = serde_json::from_str(&json)
                .map_err(|e| StoreError::UnexpectedReply(format!("feed entry {id}: {e}")))?;
            out.push(FeedEntry {
                seq,
                id: entry_id,
                change,
            });
        }
        Ok(FeedRead::Changes {
            after_id: after_id_held,
            entries: out,
        })
    }

    /// The feed's head seq (0 when there is no feed yet).
    pub async fn feed_seq(&self) -> Result<u64, StoreError> {
        Ok(self.feed_head().await?.seq)
    }

    /// The feed's head: the last seq given (0 when there is no feed yet) and its entry's id.
    pub async fn feed_head(&self) -> Result<FeedHead, StoreError> {
        let (head,): (Vec<Option<String>>,) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("MGET").arg(FEED_SEQ).arg(FEED_SEQ_ID);
                pipe
            })
            .await?;
        parse_head(head)
    }

    /// The feed's state as of its current seq, without what lapsed by `now`, with at most
    /// `max_live` live sessions (those expiring latest).
    pub async fn feed_snapshot(
        &self,
        now: i64,
        skew_seconds: u64,
        max_live: u64,
    ) -> Result<Snapshot, StoreError> {
        let now_arg = now.to_string();
        let max_live = max_live.to_string();
        let keys = [
            FEED_SEQ,
            FEED_JTIS,
            FEED_VERSIONS,
            FEED_SESSIONS,
            FEED_NOT_BEFORE,
            FEED_LIVE,
            FEED_SEQ_ID,
            FEED_USER_NOT_BEFORES,
            FEED_IDP_SESSIONS,
        ];
        let script = self.script(LuaScript::FeedSnapshot);
        type Raw = (
            String,
            String,
            Vec<String>,
            Vec<String>,
            Vec<String>,
            Vec<String>,
            String,
            Vec<String>,
            Vec<String>,
        );
        let ((
            seq,
            not_before,
            jtis,
            users,
            sessions,
            live,
            head_id,
            user_not_befores,
            idp_sessions,
        ),): (Raw,) = self
            .run(self.options.timeout, |by_hash| {
                let mut pipe = redis::pipe();
                pipe.add_command(script.cmd(
                    by_hash,
                    &keys,
                    &[now_arg.as_str(), max_live.as_str()],
                ));
                pipe
            })
            .await?;
        let bad = |what: &str| StoreError::UnexpectedReply(format!("feed snapshot {what}"));
        let mut snapshot = Snapshot {
            seq: seq.parse().map_err(|_| bad("seq"))?,
            id: Some(head_id).filter(|id| !id.is_empty()),
            skew_seconds,
            not_before: match not_before.as_str() {
                "" => None,
                text => Some(text.parse().map_err(|_| bad("not-before"))?),
            },
            jtis: Vec::new(),
            users: Vec::new(),
            sessions: Vec::new(),
            live: Vec::new(),
            idp_sessions: Vec::new(),
            idp_issuers: Vec::new(),
        };
        for (member, score) in pairs(jtis) {
            let (sub, jti): (String, String) =
                serde_json::from_str(&member).map_err(|_| bad("jti"))?;
            let until = parse_score(&score)?;
            snapshot.jtis.push(RevokedJti { sub, jti, until });
        }
        let mut not_befores = std::collections::HashMap::new();
        for (sub, not_before) in pairs(user_not_befores) {
            let not_before: i64 = not_before.parse().map_err(|_| bad("user not-before"))?;
            not_befores.insert(sub, not_before);
        }
        for (sub, version) in pairs(users) {
            let version = version.parse().map_err(|_| bad("version"))?;
            let not_before = not_befores.remove(&sub);
            snapshot.users.push(UserVersion {
                sub,
                version,
                not_before,
            });
        }
        // A not-before is always announced with a version; should one stand alone, it still
        // denies (version 0 makes no token stale).
        for (sub, not_before) in not_befores {
            snapshot.users.push(UserVersion {
                sub,
                version: 0,
                not_before: Some(not_before),
            });
        }
        for (member, score) in pairs(idp_sessions) {
            let (iss, sid): (String, String) =
                serde_json::from_str(&member).map_err(|_| bad("identity-provider session"))?;
            let until = parse_score(&score)?.ok_or_else(|| bad("identity-provider session"))?;
            snapshot
                .idp_sessions
                .push(RevokedIdpSession { iss, sid, until });
        }
        for (sid, score) in pairs(sessions) {
            let until = parse_score(&score)?.ok_or_else(|| bad("session"))?;
            snapshot.sessions.push(EndedSession { sid, until });
        }
        for (sid, score) in pairs(live) {
            let until = parse_score(&score)?.ok_or_else(|| bad("live session"))?;
            snapshot.live.push(LiveSession { sid, until });
        }
        // An end still in its outbox has not left the live set yet; its record is gone already.
        self.retain_existing_sessions(&mut snapshot.live).await?;
        Ok(snapshot)
    }

    /// Feed entries for revoking a user, written before the revocation itself: the version it
    /// will at least reach with the not-before it sets ([`crate::user_not_before`]), and the end
    /// of each session it will delete (for as long as `window` says). Returns the version and sids announced; when the revocation then reaches a
    /// higher version (a concurrent revocation), announce that too with [`Store::append_feed`],
    /// and the sessions it ended that were created in between with
    /// [`Store::feed_missed_session_ends`].
    pub async fn feed_user_revocation(
        &self,
        tag: &UserTag,
        sub: &str,
        now: i64,
        window: EndWindow,
    ) -> Result<UserRevocationFeed, StoreError> {
        let version_key = tag.version_key();
        let sessions_key = tag.sessions_key();
        let (version, sessions): (Option<u64>, Vec<String>) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("GET").arg(&version_key);
                pipe.cmd("ZRANGE")
                    .arg(&sessions_key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES");
                pipe
            })
            .await?;
        let next = version.unwrap_or(0).saturating_add(1);
        let mut changes = vec![Change::User {
            sub: sub.to_owned(),
            version: next,
            not_before: Some(crate::user_not_before(now)),
        }];
        let mut sids = Vec::new();
        for (sid, expires_at) in pairs(sessions) {
            let until = parse_score(&expires_at)?.unwrap_or(i64::MAX);
            sids.push(sid.clone());
            changes.push(Change::Session {
                sid,
                until: window.until(now, until),
            });
        }
        self.append_feed(&changes, now).await?;
        Ok(UserRevocationFeed {
            version: next,
            sids,
        })
    }

    /// Announces the ends of the `ended` sessions (sid, expiry) not among `announced`: sessions a
    /// user revocation deleted that were created after its feed entries were written. Call it
    /// before acknowledging the revocation. Returns the last seq, or `None` when none was missed.
    pub async fn feed_missed_session_ends(
        &self,
        announced: &[String],
        ended: &[(String, i64)],
        now: i64,
        window: EndWindow,
    ) -> Result<Option<u64>, StoreError> {
        let missed: Vec<Change> = ended
            .iter()
            .filter(|(sid, _)| !announced.contains(sid))
            .map(|(sid, expires_at)| Change::Session {
                sid: sid.clone(),
                until: window.until(now, *expires_at),
            })
            .collect();
        if missed.is_empty() {
            return Ok(None);
        }
        self.append_feed(&missed, now).await.map(Some)
    }

    /// The feed entry for ending session `sid`, written before the session is deleted (for as
    /// long as `window` says). `None` when there is no record: nothing to end, nothing appended.
    pub async fn feed_session_end(
        &self,
        owner: &UserTag,
        sid: &str,
        now: i64,
        window: EndWindow,
    ) -> Result<Option<u64>, StoreError> {
        let key = owner.session_key(sid);
        let (expires_at,): (Option<i64>,) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("HGET").arg(&key).arg("expires_at");
                pipe
            })
            .await?;
        let Some(expires_at) = expires_at else {
            return Ok(None);
        };
        self.append_feed(
            &[Change::Session {
                sid: sid.to_owned(),
                until: window.until(now, expires_at),
            }],
            now,
        )
        .await
        .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_arguments() {
        let state = state_args(&Change::Jti {
            sub: "a\"b".into(),
            jti: "j".into(),
            until: None,
        })
        .unwrap();
        assert_eq!(
            (state.kind, state.member.as_str(), state.score.as_str()),
            ("jti", r#"["a\"b","j"]"#, "+inf")
        );
        let state = state_args(&Change::Jti {
            sub: "a".into(),
            jti: "j".into(),
            until: Some(17),
        })
        .unwrap();
        assert_eq!(state.score, "17");
        assert_eq!(state.extra, "");
        let user = |not_before| Change::User {
            sub: "u".into(),
            version: 3,
            not_before,
        };
        let state = state_args(&user(Some(1_800_000_000))).unwrap();
        assert_eq!(
            (state.kind, state.member.as_str(), state.score.as_str()),
            ("user", "u", "3")
        );
        assert_eq!(state.extra, "1800000000");
        assert_eq!(state_args(&user(None)).unwrap().extra, "");
        let state = state_args(&Change::IdpSession {
            iss: "https://idp.example".into(),
            sid: "s\"1".into(),
            until: 99,
        })
        .unwrap();
        assert_eq!(
            (state.kind, state.member.as_str(), state.score.as_str()),
            ("idp_session", r#"["https://idp.example","s\"1"]"#, "99")
        );
        assert_eq!(parse_score("inf").unwrap(), None);
        assert_eq!(parse_score("1800000000").unwrap(), Some(1_800_000_000));
        assert_eq!(
            parse_seq("1764500000000001-0").unwrap(),
            1_764_500_000_000_001
        );
        assert!(parse_seq("x").is_err());
    }

    #[test]
    fn the_filter_computes_the_same_user_tag() {
        for sub in ["alice", "", "{weird}:x", &"é".repeat(100)] {
            assert_eq!(
                warden_core::protocol::sid::user_tag(sub),
                UserTag::of_sub(sub).as_str()
            );
        }
    }
}
