//! What the main thread learns for every worker: the replies to the scheduled JWKS fetches and
//! to the stream-mode feed poll. Envoy gives a module no per-worker timer, so the main thread
//! alone fetches and polls (one poll per Envoy, not one per worker as in the wasm build); each
//! worker's `Filter` replays the same replies in the same order before its next request, so
//! every worker decides on the state the main thread holds, as of the moment the request
//! arrives.
//!
//! The log keeps the last [`CAPACITY`] replies. A worker further behind (one that served no
//! request meanwhile) starts over from its configuration and replays what is kept; the main
//! thread then asks the feed for a snapshot, so that worker's revocation view is whole again
//! after the next poll (until then it is untrusted, as at start-up).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use warden_core::flow::{Filter, Now, Reply, Report};

/// Replies kept for workers that fall behind.
pub const CAPACITY: usize = 1024;

#[derive(Debug)]
pub enum Broadcast {
    KeysFetched {
        provider: usize,
        reply: Reply,
        now: Now,
    },
    Revocations {
        reply: Reply,
        sent: Now,
        now: Now,
    },
}

impl Broadcast {
    /// Applies the reply to `filter`: the one place the main thread and the workers share.
    pub fn apply(&self, filter: &mut Filter) -> Report {
        match self {
            Broadcast::KeysFetched {
                provider,
                reply,
                now,
            } => filter.keys_fetched(*provider, reply.clone(), *now),
            Broadcast::Revocations { reply, sent, now } => {
                filter.revocations_answered(reply, *sent, *now)
            }
        }
    }
}

#[derive(Default)]
pub struct Log {
    /// Sequence number of the next entry (entries are numbered from 0).
    head: AtomicU64,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// Sequence number of `entries[0]`.
    base: u64,
    entries: VecDeque<Arc<Broadcast>>,
}

/// What a worker at `cursor` has to replay.
pub enum CatchUp {
    /// Nothing new.
    UpToDate,
    /// These entries, after which the worker is at `cursor`.
    Replay {
        entries: Vec<Arc<Broadcast>>,
        cursor: u64,
    },
    /// Entries it has not seen were dropped: start over, then replay these.
    StartOver {
        entries: Vec<Arc<Broadcast>>,
        cursor: u64,
    },
}

impl Log {
    /// Appends `entry`; whether a revocation reply was dropped to make room (the main thread
    /// then asks for a snapshot).
    pub fn push(&self, entry: Broadcast) -> bool {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.entries.push_back(Arc::new(entry));
        let mut dropped_feed = false;
        while kept.entries.len() > CAPACITY {
            if let Some(old) = kept.entries.pop_front() {
                dropped_feed |= matches!(*old, Broadcast::Revocations { .. });
            }
            kept.base = kept.base.saturating_add(1);
        }
        let head = kept.base.saturating_add(kept.entries.len() as u64);
        self.head.store(head, Ordering::Release);
        dropped_feed
    }

    pub fn catch_up(&self, cursor: u64) -> CatchUp {
        if self.head.load(Ordering::Acquire) == cursor {
            return CatchUp::UpToDate;
        }
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let head = kept.base.saturating_add(kept.entries.len() as u64);
        if cursor < kept.base {
            return CatchUp::StartOver {
                entries: kept.entries.iter().cloned().collect(),
                cursor: head,
            };
        }
        let skip = usize::try_from(cursor - kept.base).unwrap_or(usize::MAX);
        CatchUp::Replay {
            entries: kept.entries.iter().skip(skip).cloned().collect(),
            cursor: head,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(provider: usize) -> Broadcast {
        Broadcast::KeysFetched {
            provider,
            reply: Reply::Failed,
            now: Now::from_unix_ms(0),
        }
    }

    fn provider_of(entry: &Broadcast) -> usize {
        match entry {
            Broadcast::KeysFetched { provider, .. } => *provider,
            Broadcast::Revocations { .. } => usize::MAX,
        }
    }

    #[test]
    fn a_worker_replays_what_it_has_not_seen_in_order() {
        let log = Log::default();
        assert!(matches!(log.catch_up(0), CatchUp::UpToDate));
        log.push(keys(1));
        log.push(keys(2));
        let CatchUp::Replay { entries, cursor } = log.catch_up(0) else {
            unreachable!("a worker at 0 replays")
        };
        assert_eq!(
            entries.iter().map(|e| provider_of(e)).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(cursor, 2);
        log.push(keys(3));
        let CatchUp::Replay { entries, cursor } = log.catch_up(2) else {
            unreachable!("a worker at 2 replays")
        };
        assert_eq!(
            entries.iter().map(|e| provider_of(e)).collect::<Vec<_>>(),
            [3]
        );
        assert_eq!(cursor, 3);
        assert!(matches!(log.catch_up(3), CatchUp::UpToDate));
    }

    #[test]
    fn a_worker_behind_what_is_kept_starts_over_and_a_dropped_feed_reply_is_said() {
        let log = Log::default();
        let dropped = log.push(Broadcast::Revocations {
            reply: Reply::Failed,
            sent: Now::from_unix_ms(0),
            now: Now::from_unix_ms(0),
        });
        assert!(!dropped);
        let mut said = false;
        for i in 0..CAPACITY {
            said |= log.push(keys(i));
        }
        assert!(said, "the feed reply left the log");
        match log.catch_up(0) {
            CatchUp::StartOver { entries, cursor } => {
                assert_eq!(entries.len(), CAPACITY);
                assert_eq!(cursor, CAPACITY as u64 + 1);
            }
            _ => unreachable!("a worker behind the kept entries starts over"),
        }
    }
}
