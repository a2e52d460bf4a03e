//! `GET /v1/revocations?after=SEQ&wait_ms=N` (check listener): the revocation feed for filters in
//! stream mode. Answers the changes after `SEQ` as soon as there are any, an empty list after
//! `wait_ms`, or a snapshot with its sequence number when `SEQ` is absent, unknown or trimmed.
//! The wire format is `warden_core::protocol::feed`.
//!
//! `max_live=N` asks a snapshot to list at most N live sessions (those expiring latest); without
//! it a snapshot lists none, as before live sessions existed. N is capped by the verifier's own
//! `--feed-max-live`.
//!
//! The route lists every revoked `sub`/`jti` and every live `sid`: with `--feed-token-file` it
//! answers only requests with that bearer token (401 otherwise), beside or instead of mTLS.
//!
//! Entry ids: `after_id=ID` names the entry the poller's cursor is on; changes are answered only
//! when the feed still holds entry `SEQ` with that id, on every re-read of a long-poll, else a
//! snapshot (after Redis lost its last writes, numbers are reused but ids are not). `ids=1` asks
//! for the ids in the answer; without it the answer is the same as before ids existed, so older
//! filters (which refuse unknown fields) keep working, unprotected.
//!
//! A snapshot is a full read of the feed state, so a flood of snapshot requests must not multiply
//! it: one read runs at a time ([`SnapshotCache`]), always at the cap of live sessions whatever
//! the caller asked, and is reused for as long as the feed's head stays the same entry, seq and id
//! (checked with one cheap read per request; after a rollback the same seq can name another
//! state). A caller asking fewer live sessions gets a prefix of the cached list (it is sorted
//! latest-expiring first), so no choice of `max_live` causes a read.

use crate::error::ApiError;
use crate::state::{unix_now, AppState};
use crate::store::feed::{feed_changed, FeedHead, FeedRead};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;
use warden_core::protocol::feed::{valid_id, Changes, PollAnswer, Snapshot};

/// Longest long-poll accepted.
pub const MAX_WAIT_MS: u64 = 30_000;
/// Most changes in one answer; the filter asks again at once for the rest.
pub const MAX_CHANGES: usize = 1000;
/// How often a waiting poll re-reads the feed, for changes other verifier instances appended.
pub const SHORT_POLL: Duration = Duration::from_millis(50);
/// Most live sessions a snapshot lists, whatever `max_live` asks; `--feed-max-live` (default
/// [`DEFAULT_FEED_MAX_LIVE`]) may lower it.
pub const MAX_LIVE: u64 = 10_000_000;
/// `--feed-max-live` by default: the filter's default `max_entries`.
pub const DEFAULT_FEED_MAX_LIVE: u64 = 100_000;
/// Serialised snapshot answers kept per read (one per distinct `max_live` asked).
const BODIES_KEPT: usize = 4;
/// Longest a snapshot request waits for the read in progress before answering 503.
pub const SNAPSHOT_QUEUE_WAIT: Duration = Duration::from_secs(5);
/// Longest a serialised snapshot is reused (while the feed's head has not moved).
pub const SNAPSHOT_REUSE: Duration = Duration::from_secs(5);

#[derive(Debug, Default, PartialEq, Eq)]
pub struct PollQuery {
    pub after: Option<u64>,
    /// The id of the entry `after` names, as the poller holds it.
    pub after_id: Option<String>,
    /// Whether the answer carries entry ids.
    pub ids: bool,
    pub wait_ms: u64,
    /// Live sessions a snapshot may list (0: none).
    pub max_live: u64,
}

struct CachedSnapshot {
    head: FeedHead,
    at: Instant,
    /// The read, with up to the verifier's cap of live sessions, latest-expiring first.
    snapshot: Snapshot,
    /// Serialised answers of this read by (`max_live`, ids), the latest last.
    bodies: Vec<((u64, bool), Bytes)>,
}

impl CachedSnapshot {
    /// The answer listing the first `max_live` live sessions (with entry ids when `ids`),
    /// serialised once per choice.
    fn body(&mut self, max_live: u64, ids: bool) -> Result<Bytes, ApiError> {
        if let Some((_, body)) = self.bodies.iter().find(|(k, _)| *k == (max_live, ids)) {
            return Ok(body.clone());
        }
        let mut snapshot = self.snapshot.clone();
        snapshot
            .live
            .truncate(usize::try_from(max_live).unwrap_or(usize::MAX));
        let mut answer = PollAnswer::Snapshot(snapshot);
        if !ids {
            answer = answer.without_ids();
        }
        let body = Bytes::from(serde_json::to_vec(&answer).map_err(|_| ApiError::Internal)?);
        if self.bodies.len() >= BODIES_KEPT {
            self.bodies.remove(0);
        }
        self.bodies.push(((max_live, ids), body.clone()));
        Ok(body)
    }
}

/// The last snapshot answer, shared by concurrent requesters: the lock admits one full read at a
/// time, and whoever waited reuses its answer when the feed has not moved since.
#[derive(Default)]
pub struct SnapshotCache {
    last: Mutex<Option<CachedSnapshot>>,
}

/// Reads `after`, `wait_ms`, `max_live`, `ids` (decimal) and `after_id` (an entry id), each at
/// most once; anything else is refused.
pub fn parse_query(raw: Option<&str>) -> Result<PollQuery, ApiError> {
    let mut query = PollQuery::default();
    let mut wait_ms = None;
    let mut max_live = None;
    let mut ids = None;
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "after_id" {
            if query.after_id.is_some() {
                return Err(ApiError::bad_request("`after_id` given twice".to_owned()));
            }
            if !valid_id(value) {
                return Err(ApiError::bad_request(
                    "`after_id` must be 1 to 64 base64url characters".to_owned(),
                ));
            }
            query.after_id = Some(value.to_owned());
            continue;
        }
        let slot = match name {
            "after" => &mut query.after,
            "wait_ms" => &mut wait_ms,
            "max_live" => &mut max_live,
            "ids" => &mut ids,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}`",
                    other.escape_default()
                )))
            }
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!("`{name}` given twice")));
        }
        let number = (!value.is_empty()
            && value.len() <= 20
            && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| ApiError::bad_request(format!("`{name}` must be a non-negative integer")))?;
        *slot = Some(number);
    }
    query.wait_ms = wait_ms.unwrap_or(0);
    query.ids = match ids {
        None | Some(0) => false,
        Some(1) => true,
        Some(_) => return Err(ApiError::bad_request("`ids` must be 0 or 1".to_owned())),
    };
    if query.after_id.is_some() && query.after.is_none() {
        return Err(ApiError::bad_request("`after_id` needs `after`".to_owned()));
    }
    query.max_live = max_live.unwrap_or(0).min(MAX_LIVE);
    if query.wait_ms > MAX_WAIT_MS {
        return Err(ApiError::bad_request(format!(
            "`wait_ms` must be at most {MAX_WAIT_MS}"
        )));
    }
    Ok(query)
}

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(token) = &state.0.settings.feed_token {
        let presented = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        if !token.accepts(presented) {
            return ApiError::FeedUnauthorized.into_response();
        }
    }
    let result = async {
        let query = parse_query(raw.as_deref())?;
        let query = PollQuery {
            max_live: query.max_live.min(state.0.settings.feed_max_live),
            ..query
        };
        answer(&state, &query).await
    }
    .await;
    match result {
        Ok(Answer::Changes(answer)) => {
            ([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response()
        }
        Ok(Answer::Snapshot(body)) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

enum Answer {
    Changes(PollAnswer),
    /// A serialised snapshot answer.
    Snapshot(Bytes),
}

/// The snapshot answer: from the cached read when the feed's head is still the entry it was read
/// at (seq and id), else from one fresh read (one at a time, always at the verifier's cap of live
/// sessions).
async fn snapshot(state: &AppState, max_live: u64, ids: bool) -> Result<Answer, ApiError> {
    // Waiters queue behind one read; while Redis hangs they give up rather than pile up.
    let mut last = tokio::time::timeout(SNAPSHOT_QUEUE_WAIT, state.0.snapshots.last.lock())
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let head = state
        .0
        .store
        .feed_head()
        .await
        .map_err(|e| state.store_failed("feed_head", e))?;
    if let Some(cached) = last
        .as_mut()
        .filter(|c| c.head == head && c.at.elapsed() < SNAPSHOT_REUSE)
    {
        return Ok(Answer::Snapshot(cached.body(max_live, ids)?));
    }
    let now = unix_now()?;
    let mut snapshot = state
        .0
        .store
        .feed_snapshot(
            now,
            state.0.settings.revocation_skew_seconds,
            state.0.settings.feed_max_live,
        )
        .await
        .map_err(|e| state.store_failed("feed_snapshot", e))?;
    // A revoke-all made before the feed existed is only in the global key (its own slot); a
    // later one is in both, so the higher value is always right and never denies too little.
    let global = state
        .0
        .store
        .read_not_before()
        .await
        .map_err(|e| state.store_failed("read_not_before", e))?;
    snapshot.not_before = snapshot.not_before.max(global);
    let head = FeedHead {
        seq: snapshot.seq,
        id: snapshot.id.clone(),
    };
    let cached = last.insert(CachedSnapshot {
        head,
        at: Instant::now(),
        snapshot,
        bodies: Vec::new(),
    });
    Ok(Answer::Snapshot(cached.body(max_live, ids)?))
}

async fn answer(state: &AppState, query: &PollQuery) -> Result<Answer, ApiError> {
    let (max_live, ids) = (query.max_live, query.ids);
    let Some(after) = query.after else {
        return snapshot(state, max_live, ids).await;
    };
    let deadline = Instant::now() + Duration::from_millis(query.wait_ms);
    loop {
        // Registered before the read, so an append between the read and the wait still wakes.
        let notified = feed_changed().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let read = state
            .0
            .store
            .read_feed(after, query.after_id.as_deref(), MAX_CHANGES)
            .await
            .map_err(|e| state.store_failed("read_feed", e))?;
        let (after_id, changes) = match read {
            FeedRead::Gone => return snapshot(state, max_live, ids).await,
            FeedRead::Changes { after_id, entries } => (after_id, entries),
        };
        let now = Instant::now();
        if !changes.is_empty() || now >= deadline {
            let seq = changes.last().map_or(after, |entry| entry.seq);
            let answer = PollAnswer::Changes(Changes {
                after,
                after_id,
                seq,
                changes,
            });
            return Ok(Answer::Changes(if ids {
                answer
            } else {
                answer.without_ids()
            }));
        }
        let nap = SHORT_POLL.min(deadline - now);
        let _ = tokio::time::timeout(nap, notified).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        assert_eq!(parse_query(None).unwrap(), PollQuery::default());
        assert_eq!(
            parse_query(Some("after=17&wait_ms=500")).unwrap(),
            PollQuery {
                after: Some(17),
                wait_ms: 500,
                max_live: 0,
                ..PollQuery::default()
            }
        );
        assert_eq!(
            parse_query(Some("after=17&after_id=aZ-_09&ids=1")).unwrap(),
            PollQuery {
                after: Some(17),
                after_id: Some("aZ-_09".into()),
                ids: true,
                ..PollQuery::default()
            }
        );
        assert!(!parse_query(Some("ids=0")).unwrap().ids);
        assert_eq!(parse_query(Some("max_live=7")).unwrap().max_live, 7);
        assert_eq!(
            parse_query(Some("max_live=99999999999")).unwrap().max_live,
            MAX_LIVE
        );
        assert_eq!(parse_query(Some("wait_ms=30000")).unwrap().wait_ms, 30_000);
        for bad in [
            "after=-1",
            "after=",
            "after=1&after=2",
            "wait_ms=30001",
            "wait_ms=1e3",
            "other=1",
            "after=99999999999999999999999",
            "after=%31",
            "max_live=-1",
            "max_live=1&max_live=2",
            "after=1&after_id=",
            "after=1&after_id=a%26b",
            "after=1&after_id=a.b",
            "after=1&after_id=a&after_id=a",
            "after_id=a",
            "ids=2",
            "ids=1&ids=1",
        ] {
            assert!(
                matches!(parse_query(Some(bad)), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
