//! Stream mode's revocation view: what one VM knows of the verifier's revocation state, fed by
//! `GET /v1/revocations` answers, and the local answer to "is this token denied" with the
//! verifier's own check semantics (`verifier-service/src/check.rs` and its script):
//! `token_expired` (past `exp` + the verifier's revocation skew), `revoked_all` (`iat` at or
//! before the global not-before, or no `iat` once one is set), `revoked` (jti of this sub; a
//! token without `jti`, accepted only from a provider with `require_jti: false`, has none to
//! look up), then the user: a token with `ver` is `stale_version` when `ver` is below the user's
//! version; a token without `ver` is `user_revoked` when the user has a not-before and its `iat`
//! is at or before it (or absent). Then the session checks.
//!
//! The view answers only while it is trusted: confirmed by the feed within `max_staleness_ms`,
//! within `max_entries`, and in sequence. Otherwise [`RevocationView::decide`] answers `None`
//! and the flow calls out per request as in callout mode (so `failure_mode` applies).
//!
//! Confirmation counts from when the poll was SENT, not when its answer arrived: the verifier
//! read the feed somewhere in between, so a slow answer must not stretch the staleness bound.
//!
//! The cursor is the pair (seq, entry id). Changes are applied only when they chain to it (their
//! `after` is the cursor's seq and, once the view knows the cursor's id, their `after_id` is that
//! id); anything else drops the cursor and asks for a snapshot. After Redis lost its last writes,
//! new entries reuse sequence numbers the view already passed, but not ids.
//!
//! Sessions: the feed carries ended sessions and started ones (`session_start`, announced once
//! the record is stored, with the record's expiry). A token whose `sid` is not one this verifier
//! makes for its `sub` is refused (`session_missing`) as the verifier does; an own-slot sid is
//! refused when ended (an end wins over a start, whatever their order), allowed when known live,
//! and otherwise called out: the view never allows a session it does not know to exist (never
//! created, created before the feed, expired), the verifier answers those. A `sid` naming another
//! user's slot needs the verifier (`session_mismatch` or `session_missing`), so it is called out.
//!
//! Identity-provider sessions: every answer (snapshot or changes) carries the verifier's
//! identity-provider issuers (`idp_issuers`; absent = none), and the view keeps the latest list.
//! A token whose `iss` is one of them carries that provider's `sid`, not a Warden session: it is
//! refused (`session_revoked`) when (iss, sid) was revoked and the revocation has not lapsed, and
//! otherwise allowed without any Warden-session check (a token without `sid` too). Tokens of any
//! other issuer (or none) get the Warden-session checks above. An issuer is at most
//! [`MAX_ISS_BYTES`] long and there are at most [`MAX_IDP_ISSUERS`]; an answer with more is
//! refused (the view goes stale and requests call out). A revoked session whose `iss` or `sid`
//! is longer than any the view judges (no listed issuer is longer than [`MAX_ISS_BYTES`], and the
//! filter sends no `sid` over [`MAX_ID_BYTES`]) can deny nothing and is not recorded.
//!
//! Memory: revocation entries (jtis, users, ended sessions, revoked identity-provider sessions)
//! count against `max_entries`
//! and past it the view is dropped (forgetting one would allow what must be denied). Live
//! sessions only save callouts, so they take whatever room the revocation entries leave and are
//! simply not recorded (or the soonest-expiring dropped) when there is none.

use crate::protocol::feed::{Change, Changes, PollAnswer, RevokedIdpSession, Snapshot};
use crate::protocol::sid::{owner_tag, user_tag};
use crate::protocol::{CheckRequest, Verdict, MAX_ID_BYTES};
use crate::Reason;
use std::collections::HashMap;

/// Longest a poll waits at the verifier, whatever the staleness bound.
pub const MAX_WAIT_MS: u64 = 25_000;
/// Bytes of poll answer allowed per view entry (sub and jti may each be 256 bytes, escaped; a
/// revoked identity-provider session holds an issuer of up to [`MAX_ISS_BYTES`] and a 256-byte
/// sid, in practice a URL of a few dozen bytes). The bound is on the whole answer, so a few long
/// entries fit among short ones.
pub const BYTES_PER_ENTRY: usize = 1600;
/// Longest identity-provider issuer the view records (an `https` URL; the verifier's ids are at
/// most 256 bytes, an issuer may have a path).
pub const MAX_ISS_BYTES: usize = 1024;
/// Most identity-provider issuers an answer may list (the verifier's configured providers).
pub const MAX_IDP_ISSUERS: usize = 64;
/// Bytes of poll answer allowed for the issuer list, on top of the entries (escaped).
pub const BYTES_FOR_IDP_ISSUERS: usize = MAX_IDP_ISSUERS * (2 * MAX_ISS_BYTES + 4);
/// Bytes of poll answer allowed per live session of a snapshot (a 45-byte sid and its until).
pub const BYTES_PER_LIVE: usize = 128;
/// Expired entries are dropped at most this often.
const PRUNE_INTERVAL_SECS: i64 = 10;

/// Why a poll answer was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewError {
    /// No answer, or not a `200`.
    NoAnswer(String),
    /// The body is not a poll answer.
    Malformed(String),
    /// The changes do not follow the view's cursor, or their sequence has a gap.
    OutOfSequence { cursor: Option<u64>, got: u64 },
    /// The feed's entry at the cursor's seq is not the one the view holds (the feed was rolled
    /// back and the number reused): the view needs a snapshot.
    ForeignCursor { seq: u64 },
    /// The state has more entries than `max_entries`: the view is dropped.
    Overflow(usize),
}

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ViewError::NoAnswer(why) => write!(f, "no feed answer: {why}"),
            ViewError::Malformed(why) => write!(f, "malformed feed answer: {why}"),
            ViewError::OutOfSequence { cursor, got } => {
                write!(f, "feed out of sequence: cursor {cursor:?}, got {got}")
            }
            ViewError::ForeignCursor { seq } => {
                write!(
                    f,
                    "feed entry {seq} is not the view's: the feed was rolled back"
                )
            }
            ViewError::Overflow(n) => write!(f, "revocation view over max_entries ({n})"),
        }
    }
}

/// What an applied answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Snapshot { entries: usize },
    Changes { count: usize },
}

/// Where the view is complete up to: the seq of the last entry applied and that entry's id
/// (`None` when the feed gave none: entries from before ids, or a verifier that sends none).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    seq: u64,
    id: Option<String>,
}

pub struct RevocationView {
    max_staleness_ms: u64,
    max_entries: usize,
    /// `None`: needs a snapshot.
    cursor: Option<Cursor>,
    /// When the poll whose answer last confirmed the view was sent (proxy clock, ms).
    confirmed_at_ms: Option<u64>,
    /// Set when the state outgrew `max_entries`: untrusted until a snapshot fits.
    overflowed: bool,
    skew_seconds: u64,
    not_before: Option<i64>,
    /// Length-prefixed `sub` followed by `jti` → revoked until (unix s; `None`: for good).
    jtis: HashMap<String, Option<i64>>,
    users: HashMap<String, UserState>,
    /// Ended sid → until (unix s).
    sessions: HashMap<String, i64>,
    /// The verifier's identity-provider issuers, as of the last applied answer.
    idp_issuers: Vec<String>,
    /// Length-prefixed `iss` followed by `sid` → revoked until (unix s).
    idp_sessions: HashMap<String, i64>,
    /// Started, not ended sid → until (unix s): its record's expiry.
    live: HashMap<String, i64>,
    last_prune_secs: i64,
}

/// What the view knows of one user: both only ever raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct UserState {
    /// Tokens with a `ver` below it are stale.
    version: u64,
    /// Tokens without `ver` issued at or before it (or without `iat`) are refused.
    not_before: Option<i64>,
}

/// One string for a pair of ids: the first one's length, `:`, then both (no two pairs collide).
fn pair_key(first: &str, second: &str) -> String {
    let mut key = String::with_capacity(first.len() + second.len() + 6);
    key.push_str(&first.len().to_string());
    key.push(':');
    key.push_str(first);
    key.push_str(second);
    key
}

fn jti_key(sub: &str, jti: &str) -> String {
    pair_key(sub, jti)
}

fn idp_session_key(iss: &str, sid: &str) -> String {
    pair_key(iss, sid)
}

/// Whether an identity-provider session revocation can ever deny a token the view judges.
fn recordable_idp_session(iss: &str, sid: &str) -> bool {
    iss.len() <= MAX_ISS_BYTES && sid.len() <= MAX_ID_BYTES
}

/// Whether an answer's issuer list is one the view can hold.
fn valid_idp_issuers(issuers: &[String]) -> bool {
    issuers.len() <= MAX_IDP_ISSUERS && issuers.iter().all(|iss| iss.len() <= MAX_ISS_BYTES)
}

/// The verifier refuses a token past `exp` + its revocation skew (`exp` 0: no expiry).
fn past_revocation_window(exp: i64, now: i64, skew_seconds: u64) -> bool {
    let skew = i64::try_from(skew_seconds).unwrap_or(i64::MAX);
    exp != 0 && exp.saturating_add(skew) <= now
}

/// `iat` at or before a not-before (or no `iat` once one is set): the global one (`revoked_all`)
/// and a user's for tokens without `ver` (`user_revoked`) alike.
fn revoked_by_not_before(not_before: Option<i64>, iat: Option<i64>) -> bool {
    match (not_before, iat) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(not_before), Some(iat)) => iat <= not_before,
    }
}

fn secs(unix_ms: u64) -> i64 {
    i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX)
}

fn live(until: Option<i64>, now: i64) -> bool {
    until.is_none_or(|until| until > now)
}

impl RevocationView {
    pub fn new(max_staleness_ms: u64, max_entries: usize) -> RevocationView {
        RevocationView {
            max_staleness_ms,
            max_entries,
            cursor: None,
            confirmed_at_ms: None,
            overflowed: false,
            skew_seconds: 0,
            not_before: None,
            jtis: HashMap::new(),
            users: HashMap::new(),
            sessions: HashMap::new(),
            idp_issuers: Vec::new(),
            idp_sessions: HashMap::new(),
            live: HashMap::new(),
            last_prune_secs: 0,
        }
    }

    /// Revocation entries held (jtis, users, ended sessions, revoked identity-provider
    /// sessions); live sessions not counted.
    pub fn len(&self) -> usize {
        self.jtis.len() + self.users.len() + self.sessions.len() + self.idp_sessions.len()
    }

    /// Live sessions held.
    pub fn live_len(&self) -> usize {
        self.live.len()
    }

    /// Room left for live sessions: what the revocation entries leave of `max_entries`.
    fn live_room(&self) -> usize {
        self.max_entries.saturating_sub(self.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn cursor(&self) -> Option<u64> {
        self.cursor.as_ref().map(|c| c.seq)
    }

    /// The id of the cursor's entry, when known.
    pub fn cursor_id(&self) -> Option<&str> {
        self.cursor.as_ref().and_then(|c| c.id.as_deref())
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The staleness bound: past it the view stops answering.
    pub fn max_staleness_ms(&self) -> u64 {
        self.max_staleness_ms
    }

    /// When the poll whose answer last confirmed the view was sent (unix ms); `None` before the
    /// first applied answer.
    pub fn confirmed_at_ms(&self) -> Option<u64> {
        self.confirmed_at_ms
    }

    /// Whether the view may answer at `now_ms` (unix ms).
    pub fn trusted(&self, now_ms: u64) -> bool {
        !self.overflowed
            && self.cursor.is_some()
            && self
                .confirmed_at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) < self.max_staleness_ms && at <= now_ms)
    }

    /// How long a poll may wait at the verifier: a quarter of the staleness bound. An answer
    /// confirms the view as of when its poll was sent, and the next poll is sent when it arrives,
    /// so on a quiet feed the view stays trusted while one wait plus one round trip is under half
    /// the bound.
    pub fn wait_ms(&self) -> u64 {
        (self.max_staleness_ms / 4).min(MAX_WAIT_MS)
    }

    /// The path and query of the next poll under `base`: the changes after the cursor (with its
    /// id when known), or a snapshot when there is none. Both ask for entry ids and live
    /// sessions: the verifier answers a poll whose cursor it no longer holds with a snapshot too.
    pub fn poll_path(&self, base: &str) -> String {
        let max_live = self.max_entries;
        match &self.cursor {
            Some(Cursor { seq, id }) => {
                let after_id = id
                    .as_deref()
                    .map(|id| format!("&after_id={id}"))
                    .unwrap_or_default();
                format!(
                    "{base}?after={seq}{after_id}&ids=1&wait_ms={}&max_live={max_live}",
                    self.wait_ms()
                )
            }
            None => format!("{base}?ids=1&wait_ms=0&max_live={max_live}"),
        }
    }

    /// The largest poll answer worth reading: a snapshot of `max_entries` revocation entries and
    /// the `max_live` (= `max_entries`) live sessions it asks for, and the issuer list.
    pub fn max_answer_bytes(&self) -> usize {
        self.max_entries
            .saturating_mul(BYTES_PER_ENTRY.saturating_add(BYTES_PER_LIVE))
            .saturating_add(BYTES_FOR_IDP_ISSUERS)
    }

    /// Applies the body of a `200` answer to the poll sent at `sent_ms`, arrived at `now_ms`
    /// (unix ms). On error the view keeps its state and cursor (unless it overflowed or lost its
    /// sequence) and is simply not confirmed, so it goes stale.
    pub fn apply_body(
        &mut self,
        body: &[u8],
        sent_ms: u64,
        now_ms: u64,
    ) -> Result<Applied, ViewError> {
        let answer: PollAnswer =
            serde_json::from_slice(body).map_err(|e| ViewError::Malformed(e.to_string()))?;
        self.apply(answer, sent_ms, now_ms)
    }

    /// Applies one decoded answer to the poll sent at `sent_ms`, arrived at `now_ms` (unix ms).
    /// The view counts as confirmed from `sent_ms`: the verifier read the feed after that.
    pub fn apply(
        &mut self,
        answer: PollAnswer,
        sent_ms: u64,
        now_ms: u64,
    ) -> Result<Applied, ViewError> {
        if !answer.ids_valid() {
            return Err(ViewError::Malformed("bad feed entry id".into()));
        }
        let issuers = match &answer {
            PollAnswer::Snapshot(s) => &s.idp_issuers,
            PollAnswer::Changes(c) => &c.idp_issuers,
        };
        if !valid_idp_issuers(issuers) {
            return Err(ViewError::Malformed(format!(
                "more than {MAX_IDP_ISSUERS} identity-provider issuers, or one over {MAX_ISS_BYTES} bytes"
            )));
        }
        let now_secs = secs(now_ms);
        let applied = match answer {
            PollAnswer::Snapshot(snapshot) => self.apply_snapshot(snapshot, now_secs)?,
            PollAnswer::Changes(changes) => self.apply_changes(changes, now_secs)?,
        };
        self.confirmed_at_ms = Some(sent_ms.min(now_ms));
        if now_secs.saturating_sub(self.last_prune_secs) >= PRUNE_INTERVAL_SECS {
            self.prune(now_secs);
        }
        Ok(applied)
    }

    fn apply_snapshot(&mut self, s: Snapshot, t: i64) -> Result<Applied, ViewError> {
        let idp_kept =
            |x: &RevokedIdpSession| x.until > t && recordable_idp_session(&x.iss, &x.sid);
        let entries = s.jtis.iter().filter(|j| live(j.until, t)).count()
            + s.users.len()
            + s.sessions.iter().filter(|x| x.until > t).count()
            + s.idp_sessions.iter().filter(|x| idp_kept(x)).count();
        if entries > self.max_entries {
            self.overflow();
            return Err(ViewError::Overflow(entries));
        }
        self.clear();
        self.skew_seconds = s.skew_seconds;
        self.not_before = s.not_before;
        for j in s.jtis.into_iter().filter(|j| live(j.until, t)) {
            self.add_jti(&j.sub, &j.jti, j.until);
        }
        for u in s.users {
            self.raise_user(u.sub, u.version, u.not_before);
        }
        for x in s.sessions.into_iter().filter(|x| x.until > t) {
            self.end_session(x.sid, x.until);
        }
        for x in s.idp_sessions.into_iter().filter(|x| idp_kept(x)) {
            self.revoke_idp_session(&x.iss, &x.sid, x.until);
        }
        self.idp_issuers = s.idp_issuers;
        // The verifier lists the latest-expiring first: those are the ones kept when room runs out.
        for x in s.live.into_iter().filter(|x| x.until > t) {
            self.start_session(x.sid, x.until, t);
        }
        self.cursor = Some(Cursor {
            seq: s.seq,
            id: s.id,
        });
        self.overflowed = false;
        Ok(Applied::Snapshot { entries })
    }

    /// Whether changes after (`after`, `after_id`) continue from the view's cursor: same seq, and
    /// the same entry there once the view knows its id (an answer without one cannot show that).
    fn chains(&self, after: u64, after_id: Option<&str>) -> Result<(), ViewError> {
        match &self.cursor {
            Some(cursor) if cursor.seq == after => match &cursor.id {
                Some(ours) if after_id != Some(ours.as_str()) => {
                    Err(ViewError::ForeignCursor { seq: after })
                }
                _ => Ok(()),
            },
            other => Err(ViewError::OutOfSequence {
                cursor: other.as_ref().map(|c| c.seq),
                got: after,
            }),
        }
    }

    fn apply_changes(&mut self, c: Changes, now_secs: i64) -> Result<Applied, ViewError> {
        if let Err(e) = self.chains(c.after, c.after_id.as_deref()) {
            self.cursor = None;
            return Err(e);
        }
        let mut expected = c.after;
        for entry in &c.changes {
            if Some(entry.seq) != expected.checked_add(1) {
                self.cursor = None;
                return Err(ViewError::OutOfSequence {
                    cursor: Some(expected),
                    got: entry.seq,
                });
            }
            expected = entry.seq;
        }
        if c.seq != expected {
            self.cursor = None;
            return Err(ViewError::OutOfSequence {
                cursor: Some(expected),
                got: c.seq,
            });
        }
        let count = c.changes.len();
        let id = match c.changes.last() {
            Some(last) => last.id.clone(),
            None => self
                .cursor
                .as_ref()
                .and_then(|cursor| cursor.id.clone())
                .or(c.after_id),
        };
        for entry in c.changes {
            self.apply_change(entry.change, now_secs);
        }
        self.idp_issuers = c.idp_issuers;
        if self.len() > self.max_entries {
            let n = self.len();
            self.overflow();
            return Err(ViewError::Overflow(n));
        }
        self.fit_live(now_secs);
        self.cursor = Some(Cursor { seq: c.seq, id });
        Ok(Applied::Changes { count })
    }

    fn apply_change(&mut self, change: Change, now: i64) {
        match change {
            Change::Jti { sub, jti, until } => {
                if live(until, now) {
                    self.add_jti(&sub, &jti, until);
                }
            }
            Change::User {
                sub,
                version,
                not_before,
            } => self.raise_user(sub, version, not_before),
            Change::Session { sid, until } => {
                if until > now {
                    self.end_session(sid, until);
                } else {
                    // Nothing left to deny by the end itself, but the session is no longer live:
                    // its tokens go back to the verifier.
                    self.live.remove(&sid);
                }
            }
            Change::SessionStart { sid, until } => self.start_session(sid, until, now),
            Change::NotBefore { not_before } => {
                self.not_before = self.not_before.max(Some(not_before));
            }
            Change::IdpSession { iss, sid, until } => {
                if until > now && recordable_idp_session(&iss, &sid) {
                    self.revoke_idp_session(&iss, &sid, until);
                }
            }
        }
    }

    /// A revocation is only ever lengthened (`None` = for good wins).
    fn add_jti(&mut self, sub: &str, jti: &str, until: Option<i64>) {
        let slot = self.jtis.entry(jti_key(sub, jti)).or_insert(until);
        if slot.is_some() {
            *slot = match until {
                None => None,
                Some(u) => slot.map(|s| s.max(u)),
            };
        }
    }

    /// A user's version and not-before are only ever raised (an absent not-before changes none).
    fn raise_user(&mut self, sub: String, version: u64, not_before: Option<i64>) {
        let slot = self.users.entry(sub).or_default();
        slot.version = slot.version.max(version);
        slot.not_before = slot.not_before.max(not_before);
    }

    /// An identity-provider session revocation is only ever lengthened.
    fn revoke_idp_session(&mut self, iss: &str, sid: &str, until: i64) {
        let slot = self
            .idp_sessions
            .entry(idp_session_key(iss, sid))
            .or_insert(until);
        *slot = (*slot).max(until);
    }

    fn end_session(&mut self, sid: String, until: i64) {
        self.live.remove(&sid);
        let slot = self.sessions.entry(sid).or_insert(until);
        *slot = (*slot).max(until);
    }

    /// Records a started session (a later until extends it), unless it has ended or there is no
    /// room left (then its tokens are called out, which is always correct).
    fn start_session(&mut self, sid: String, until: i64, now: i64) {
        if until <= now || self.sessions.get(&sid).is_some_and(|end| *end > now) {
            return;
        }
        if let Some(slot) = self.live.get_mut(&sid) {
            *slot = (*slot).max(until);
        } else if self.live.len() < self.live_room() {
            self.live.insert(sid, until);
        }
    }

    /// Keeps the live sessions within the room the revocation entries leave, dropping the lapsed
    /// ones and then those expiring soonest.
    fn fit_live(&mut self, now: i64) {
        let room = self.live_room();
        if self.live.len() <= room {
            return;
        }
        self.live.retain(|_, until| *until > now);
        let excess = self.live.len().saturating_sub(room);
        if excess == 0 {
            return;
        }
        let mut ends: Vec<i64> = self.live.values().copied().collect();
        ends.sort_unstable();
        let cut = ends
            .get(excess.saturating_sub(1))
            .copied()
            .unwrap_or(i64::MIN);
        // Everything up to the excess-th soonest end goes (ties may take a few more).
        self.live.retain(|_, until| *until > cut);
    }

    fn clear(&mut self) {
        self.jtis = HashMap::new();
        self.users = HashMap::new();
        self.sessions = HashMap::new();
        self.idp_issuers = Vec::new();
        self.idp_sessions = HashMap::new();
        self.live = HashMap::new();
        self.not_before = None;
    }

    /// Drops everything (forgetting part of it would allow what must be denied) and asks for a
    /// snapshot; the view stays untrusted until one fits.
    fn overflow(&mut self) {
        self.clear();
        self.overflowed = true;
        self.cursor = None;
    }

    fn prune(&mut self, now: i64) {
        self.jtis.retain(|_, until| live(*until, now));
        self.sessions.retain(|_, until| *until > now);
        self.idp_sessions.retain(|_, until| *until > now);
        self.live.retain(|_, until| *until > now);
        self.last_prune_secs = now;
    }

    /// The local verdict for a token at `now_ms` (unix ms), or `None` when the view may not
    /// answer (call out).
    pub fn decide(&self, request: &CheckRequest, now_ms: u64) -> Option<Verdict> {
        if !self.trusted(now_ms) {
            return None;
        }
        let t = secs(now_ms);
        if past_revocation_window(request.exp, t, self.skew_seconds) {
            return Some(Verdict::Deny(Reason::TokenExpired));
        }
        if revoked_by_not_before(self.not_before, request.iat) {
            return Some(Verdict::Deny(Reason::RevokedAll));
        }
        if let Some(jti) = &request.jti {
            if let Some(until) = self.jtis.get(&jti_key(&request.sub, jti)) {
                if live(*until, t) {
                    return Some(Verdict::Deny(Reason::Revoked));
                }
            }
        }
        let user = self.users.get(&request.sub).copied().unwrap_or_default();
        if let Some(reason) = user_reason(user, request) {
            return Some(Verdict::Deny(reason));
        }
        if let Some(iss) = request
            .iss
            .as_deref()
            .filter(|iss| self.idp_issuers.iter().any(|i| i == iss))
        {
            return Some(self.idp_session_verdict(iss, request.sid.as_deref(), t));
        }
        let Some(sid) = &request.sid else {
            return Some(Verdict::Allow);
        };
        match owner_tag(sid) {
            None => Some(Verdict::Deny(Reason::SessionMissing)),
            Some(owner) if owner == user_tag(&request.sub) => {
                if self
                    .sessions
                    .get(sid.as_str())
                    .is_some_and(|until| *until > t)
                {
                    return Some(Verdict::Deny(Reason::SessionMissing));
                }
                // Unknown or lapsed: the verifier knows whether the record still exists.
                self.live
                    .get(sid.as_str())
                    .is_some_and(|until| *until > t)
                    .then_some(Verdict::Allow)
            }
            // Another user's slot: whether that session exists decides the reason.
            Some(_) => None,
        }
    }

    /// A token of an identity provider: its `sid` is the provider's, refused only while its
    /// revocation lasts; Warden's own session rules do not apply to it.
    fn idp_session_verdict(&self, iss: &str, sid: Option<&str>, now: i64) -> Verdict {
        let revoked = sid.is_some_and(|sid| {
            self.idp_sessions
                .get(&idp_session_key(iss, sid))
                .is_some_and(|until| *until > now)
        });
        if revoked {
            Verdict::Deny(Reason::SessionRevoked)
        } else {
            Verdict::Allow
        }
    }
}

/// The user's revocations: a token with `ver` by version (`stale_version`), one without by the
/// user's not-before (`user_revoked`).
/// The verifier's check script (`check.lua`) decides the same: a user revoked before not-befores
/// existed has a version but no not-before, and the moment of that revocation is unknown, so
/// tokens without `ver` stay refused until the next revocation stores one.
fn user_reason(user: UserState, request: &CheckRequest) -> Option<Reason> {
    match request.ver {
        Some(ver) => (ver < user.version).then_some(Reason::StaleVersion),
        None if user.not_before.is_none() && user.version > 0 => Some(Reason::UserRevoked),
        None => revoked_by_not_before(user.not_before, request.iat).then_some(Reason::UserRevoked),
    }
}

#[cfg(test)]
mod tests;
