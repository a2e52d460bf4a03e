//! The last snapshot answer, shared by concurrent requesters ([`SnapshotCache`]).

use crate::service::error::ServiceError;
use crate::store::feed::FeedHead;
use bytes::Bytes;
use tokio::sync::Mutex;
use tokio::time::Instant;
use warden_core::protocol::feed::{PollAnswer, Snapshot};

/// Serialised snapshot answers kept per read (one per distinct `max_live` asked).
const BODIES_KEPT: usize = 4;

/// One snapshot read and its serialised answers.
pub(super) struct CachedSnapshot {
    pub(super) head: FeedHead,
    pub(super) at: Instant,
    /// The read, with up to the verifier's cap of live sessions, latest-expiring first.
    pub(super) snapshot: Snapshot,
    /// Serialised answers of this read by (`max_live`, ids), the latest last.
    pub(super) bodies: Vec<((u64, bool), Bytes)>,
}

impl CachedSnapshot {
    /// The answer listing the first `max_live` live sessions (with entry ids when `ids`),
    /// serialised once per choice.
    pub(super) fn body(&mut self, max_live: u64, ids: bool) -> Result<Bytes, ServiceError> {
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
        let body = Bytes::from(serde_json::to_vec(&answer).map_err(|_| ServiceError::Internal)?);
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
    pub(super) last: Mutex<Option<CachedSnapshot>>,
}
