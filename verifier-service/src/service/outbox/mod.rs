//! The relay of session ends from the users' outboxes to the revocation feed (`store::outbox`).
//!
//! A handler whose refresh script ended a session relays the user's outbox at once, before it
//! answers. When that fails (the feed's slot unreachable: on a Cluster another shard), the end is
//! still stored, so the holder gets its answer, and the outbox is left to the background relay of
//! this process, which retries it (250 ms, doubling up to 1 s) until the feed has it. Each process
//! also scans Redis for outboxes at start and every minute, so ends left by an instance that
//! crashed before relaying are delivered by another one.
//!
//! What is pending is logged (a warning per retry round) and counted in
//! `warden_verifier_feed_outbox_pending`. Meanwhile stream-mode filters that hold the session as
//! live keep accepting its tokens (as they would any change not yet in the feed), snapshots no
//! longer list it as live, and the verifier itself refuses its tokens (`session_missing`).

pub mod pending;

use super::Services;
use crate::store::keys::UserTag;
use crate::store::outbox::EndWindow;
use crate::store::StoreError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use warden_core::protocol::feed::Change;

/// First retry of a failed relay; each failed round doubles it up to [`RETRY_MAX`].
pub const RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest pause between retries while ends are pending.
pub const RETRY_MAX: Duration = Duration::from_secs(1);
/// How often Redis is scanned for outboxes (besides at start).
pub const SCAN_INTERVAL: Duration = Duration::from_secs(60);
/// How often the warning about pending ends repeats while their count stays the same.
const LOG_INTERVAL: Duration = Duration::from_secs(30);
/// Ends appended to the feed per call.
const ENDS_PER_APPEND: usize = 256;

/// How long this verifier announces a session's end (see [`EndWindow::until`]).
pub fn end_window(svc: &Services) -> EndWindow {
    EndWindow {
        access_ttl_seconds: svc
            .issuer
            .as_ref()
            .map(|issuer| issuer.settings.access_ttl_seconds),
        skew_seconds: svc.settings.revocation_skew_seconds,
    }
}

/// Why a relay did not finish, and how many ends it saw waiting (`None`: could not read them).
struct RelayFailed {
    waiting: Option<usize>,
    error: StoreError,
}

/// Appends the ends in `tag`'s outbox to the feed, then removes them from the outbox. Returns
/// how many it relayed.
async fn relay(svc: &Services, tag: &UserTag) -> Result<usize, RelayFailed> {
    let store = &svc.store;
    let ends = store.read_outbox(tag).await.map_err(|error| RelayFailed {
        waiting: None,
        error,
    })?;
    let failed = |error| RelayFailed {
        waiting: Some(ends.len()),
        error,
    };
    let now = crate::clock::unix_now()
        .map_err(|_| failed(StoreError::UnexpectedReply("clock".into())))?;
    let window = end_window(svc);
    for batch in ends.chunks(ENDS_PER_APPEND) {
        let changes: Vec<Change> = batch
            .iter()
            .map(|end| Change::Session {
                sid: end.sid.clone(),
                until: window.until(end.ended_at, end.expires_at),
            })
            .collect();
        store.append_feed(&changes, now).await.map_err(failed)?;
        let sids: Vec<String> = batch.iter().map(|end| end.sid.clone()).collect();
        store.clear_outbox(tag, &sids).await.map_err(failed)?;
    }
    Ok(ends.len())
}

fn publish(svc: &Services) -> usize {
    let pending = svc.outbox.pending();
    svc.metrics.set_outbox_pending(pending);
    pending
}

/// After a refresh script ended session `sid`: relays its user's outbox now, or leaves it to the
/// background relay when the feed cannot take it.
pub async fn relay_after_end(svc: &Services, sid: &str) {
    let Some(tag) = crate::store::sid::owner_tag(sid) else {
        return;
    };
    match relay(svc, &tag).await {
        Ok(_) => svc.outbox.forget(&tag),
        Err(RelayFailed { waiting, error }) => {
            svc.metrics.record_redis_error();
            svc.outbox.remember(&tag, waiting.unwrap_or(1));
            tracing::warn!(sid = %sid, %error,
                "session end not in the revocation feed yet: it waits in the user's outbox and is relayed in the background; until then stream-mode filters that know the session accept its tokens");
            svc.outbox.wake.notify_one();
        }
    }
    publish(svc);
}

/// The background relay: retries the pending outboxes until the feed has their ends, and scans
/// Redis for outboxes at start and every [`SCAN_INTERVAL`]. Runs until `stop` completes.
pub async fn run_relay(svc: Arc<Services>, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let relay_state = &svc.outbox;
    let mut next_scan = Instant::now();
    let mut delay = RETRY_MIN;
    // The warning repeats when the count changes, else every LOG_INTERVAL.
    let mut logged: Option<(usize, Instant)> = None;
    loop {
        if Instant::now() >= next_scan {
            match svc.store.scan_outboxes().await {
                Ok(tags) => {
                    for tag in &tags {
                        relay_state.remember_if_new(tag);
                    }
                    next_scan = Instant::now() + SCAN_INTERVAL;
                }
                Err(error) => {
                    tracing::debug!(%error, "scan for feed outboxes failed; retrying");
                    next_scan = Instant::now() + RETRY_MAX;
                }
            }
        }
        let mut last_error = None;
        for tag in relay_state.tags() {
            match relay(&svc, &tag).await {
                Ok(_) => relay_state.forget(&tag),
                Err(RelayFailed { waiting, error }) => {
                    match waiting {
                        Some(0) => relay_state.forget(&tag),
                        Some(n) => relay_state.remember(&tag, n),
                        None => {}
                    }
                    last_error = Some(error);
                }
            }
        }
        let pending = publish(&svc);
        let wait = match last_error {
            Some(error) => {
                svc.metrics.record_redis_error();
                let repeat = logged
                    .is_none_or(|(count, at)| count != pending || at.elapsed() >= LOG_INTERVAL);
                if repeat {
                    tracing::warn!(pending, %error,
                        "session ends wait in outboxes for the revocation feed; retrying");
                    logged = Some((pending, Instant::now()));
                }
                let wait = delay;
                delay = (delay * 2).min(RETRY_MAX);
                wait
            }
            None => {
                delay = RETRY_MIN;
                logged = None;
                next_scan.saturating_duration_since(Instant::now())
            }
        };
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(wait) => {}
            () = relay_state.wake.notified() => {}
        }
    }
}
