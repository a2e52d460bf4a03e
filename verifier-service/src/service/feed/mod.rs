//! The feed for filters in stream mode (served as `GET /v1/revocations`): the changes after a
//! sequence number, long-polled, or a snapshot with its sequence number.
//!
//! A snapshot is a full read of the feed state, so a flood of snapshot requests must not multiply
//! it: one read runs at a time ([`SnapshotCache`]), always at the cap of live sessions whatever
//! the caller asked, and is reused for as long as the feed's head stays the same entry, seq and id
//! (checked with one cheap read per request; after a rollback the same seq can name another
//! state). A caller asking fewer live sessions gets a prefix of the cached list (it is sorted
//! latest-expiring first), so no choice of `max_live` causes a read.

pub mod cache;

use super::error::ServiceError;
use super::Services;
use crate::store::feed::{FeedHead, FeedRead};
use bytes::Bytes;
use cache::CachedSnapshot;
use std::time::Duration;
use tokio::time::Instant;
use warden_core::protocol::feed::{Changes, PollAnswer};

/// Longest long-poll accepted.
pub const MAX_WAIT_MS: u64 = 30_000;
/// Most changes in one answer; the filter asks again at once for the rest.
pub const MAX_CHANGES: usize = 1000;
/// How often a waiting poll re-reads the feed, for changes other verifier instances appended.
pub const SHORT_POLL: Duration = Duration::from_millis(50);
/// Most live sessions a snapshot lists, whatever `max_live` asks; `--feed-max-live` (default
/// `config::DEFAULT_FEED_MAX_LIVE`) may lower it.
pub const MAX_LIVE: u64 = 10_000_000;
/// Longest a snapshot request waits for the read in progress before answering 503.
pub const SNAPSHOT_QUEUE_WAIT: Duration = Duration::from_secs(5);
/// Longest a serialised snapshot is reused (while the feed's head has not moved).
pub const SNAPSHOT_REUSE: Duration = Duration::from_secs(5);

/// A poll, as `GET /v1/revocations` reads it from its query.
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

pub enum Answer {
    Changes(PollAnswer),
    /// A serialised snapshot answer.
    Snapshot(Bytes),
}

/// The snapshot answer: from the cached read when the feed's head is still the entry it was read
/// at (seq and id), else from one fresh read (one at a time, always at the verifier's cap of live
/// sessions).
async fn snapshot(svc: &Services, max_live: u64, ids: bool) -> Result<Answer, ServiceError> {
    // Waiters queue behind one read; while Redis hangs they give up rather than pile up.
    let mut last = tokio::time::timeout(SNAPSHOT_QUEUE_WAIT, svc.snapshots.last.lock())
        .await
        .map_err(|_| ServiceError::Unavailable)?;
    let head = svc
        .store
        .feed_head()
        .await
        .map_err(svc.failed("feed_head"))?;
    if let Some(cached) = last
        .as_mut()
        .filter(|c| c.head == head && c.at.elapsed() < SNAPSHOT_REUSE)
    {
        return Ok(Answer::Snapshot(cached.body(max_live, ids)?));
    }
    // Read after the wait for the lock, which may be seconds.
    let now = crate::clock::unix_now()?;
    let mut snapshot = svc
        .store
        .feed_snapshot(
            now,
            svc.settings.revocation_skew_seconds,
            svc.settings.feed_max_live,
        )
        .await
        .map_err(svc.failed("feed_snapshot"))?;
    // A revoke-all made before the feed existed is only in the global key (its own slot); a
    // later one is in both, so the higher value is always right and never denies too little.
    let global = svc
        .store
        .read_not_before()
        .await
        .map_err(svc.failed("read_not_before"))?;
    snapshot.not_before = snapshot.not_before.max(global);
    snapshot.idp_issuers = svc.settings.identity_providers.issuers();
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

/// The answer to a poll: the changes after `query.after` as soon as there are any (or none at
/// `wait_ms`), else a snapshot.
pub async fn answer(svc: &Services, query: &PollQuery) -> Result<Answer, ServiceError> {
    let (max_live, ids) = (query.max_live, query.ids);
    let Some(after) = query.after else {
        return snapshot(svc, max_live, ids).await;
    };
    let deadline = Instant::now() + Duration::from_millis(query.wait_ms);
    loop {
        // Registered before the read, so an append between the read and the wait still wakes.
        let notified = svc.store.feed_changed().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let read = svc
            .store
            .read_feed(after, query.after_id.as_deref(), MAX_CHANGES)
            .await
            .map_err(svc.failed("read_feed"))?;
        let (after_id, changes) = match read {
            FeedRead::Gone => return snapshot(svc, max_live, ids).await,
            FeedRead::Changes { after_id, entries } => (after_id, entries),
        };
        let at = Instant::now();
        if !changes.is_empty() || at >= deadline {
            let seq = changes.last().map_or(after, |entry| entry.seq);
            let answer = PollAnswer::Changes(Changes {
                after,
                after_id,
                seq,
                changes,
                idp_issuers: svc.settings.identity_providers.issuers(),
            });
            return Ok(Answer::Changes(if ids {
                answer
            } else {
                answer.without_ids()
            }));
        }
        let nap = SHORT_POLL.min(deadline - at);
        let _ = tokio::time::timeout(nap, notified).await;
    }
}
