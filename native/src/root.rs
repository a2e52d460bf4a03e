//! The main thread's part: the scheduled JWKS fetches and the stream-mode feed poll, sent as the
//! configuration's callouts, their replies applied to the main thread's `Filter` and logged for
//! the workers (`broadcast.rs`); the gauges, set from the same state. The wasm build does this
//! in each VM's root context.

use crate::broadcast::Broadcast;
use crate::config::WardenConfig;
use crate::logger;
use std::collections::HashMap;
use warden_core::flow::{Call, Filter, Now, Reply, Report};

pub struct Root {
    pub filter: Filter,
    /// Callout id → (provider, read bound) of the JWKS fetches in flight.
    fetches: HashMap<u64, (usize, usize)>,
    /// Callout id, read bound and send time of the feed poll in flight.
    poll: Option<(u64, usize, Now)>,
    /// No poll starts before this time (ms).
    next_poll_at_ms: u64,
}

impl Root {
    pub fn new(filter: Filter) -> Root {
        Root {
            filter,
            fetches: HashMap::new(),
            poll: None,
            next_poll_at_ms: 0,
        }
    }
}

/// The scheduled start: `remote_jwks.fetch_at_start` and the first poll.
pub fn start(config: &WardenConfig, now: Now) {
    let due = config.with_root(|root| root.filter.fetches_at_start(now));
    fetch(config, due.unwrap_or_default(), now);
    poll(config, now);
    gauges(config, now);
}

/// The tick: fetches that are due, the poll if none is in flight, the gauges.
pub fn tick(config: &WardenConfig, now: Now) {
    let due = config.with_root(|root| root.filter.due_fetches(now));
    fetch(config, due.unwrap_or_default(), now);
    poll(config, now);
    gauges(config, now);
}

fn fetch(config: &WardenConfig, due: Vec<(usize, Call)>, now: Now) {
    for (provider, call) in due {
        match config.envoy.callout(&call) {
            Ok(id) => {
                config.with_root(|root| {
                    root.fetches.insert(id, (provider, call.max_response_bytes));
                });
            }
            Err(why) => {
                publish(
                    config,
                    Broadcast::KeysFetched {
                        provider,
                        reply: Reply::NotStarted(why),
                        now,
                    },
                );
            }
        }
    }
}

fn poll(config: &WardenConfig, now: Now) {
    let call = config.with_root(|root| {
        if root.poll.is_some() || now.unix_ms < root.next_poll_at_ms {
            return None;
        }
        root.filter.revocation_poll()
    });
    let Some(call) = call.flatten() else {
        return;
    };
    match config.envoy.callout(&call) {
        Ok(id) => {
            config.with_root(|root| root.poll = Some((id, call.max_response_bytes, now)));
        }
        Err(why) => answered(config, Reply::NotStarted(why), now, now),
    }
}

/// The read bound of callout `id` if it is one of the configuration's.
pub fn read_bound(config: &WardenConfig, id: u64) -> Option<usize> {
    config
        .with_root(|root| {
            root.fetches.get(&id).map(|(_, max)| *max).or_else(|| {
                root.poll
                    .filter(|(poll, _, _)| *poll == id)
                    .map(|(_, max, _)| max)
            })
        })
        .flatten()
}

/// Applies the reply to the configuration's callout `id`.
pub fn callout_done(config: &WardenConfig, id: u64, reply: Reply, now: Now) {
    let fetch = config.with_root(|root| root.fetches.remove(&id)).flatten();
    if let Some((provider, _)) = fetch {
        publish(
            config,
            Broadcast::KeysFetched {
                provider,
                reply,
                now,
            },
        );
        return;
    }
    let sent = config
        .with_root(|root| root.poll.take_if(|(poll, _, _)| *poll == id))
        .flatten();
    if let Some((_, _, sent)) = sent {
        answered(config, reply, sent, now);
        poll(config, now);
    }
}

fn answered(config: &WardenConfig, reply: Reply, sent: Now, now: Now) {
    let report = publish(config, Broadcast::Revocations { reply, sent, now });
    config.with_root(|root| {
        let pause = root.filter.feed_pause_ms(&report);
        root.next_poll_at_ms = now.unix_ms.saturating_add(pause);
    });
}

/// Applies `entry` to the main thread's filter, reports it (the workers' replays are not
/// counted again), and logs it for the workers.
fn publish(config: &WardenConfig, entry: Broadcast) -> Report {
    let report = config
        .with_root(|root| entry.apply(&mut root.filter))
        .unwrap_or_default();
    report_main(config, &report);
    if config.log.push(entry) {
        // A worker that missed feed answers resynchronises from the snapshot this brings.
        config.with_root(|root| root.filter.restart_revocation_view());
    }
    report
}

fn report_main(config: &WardenConfig, report: &Report) {
    config.metrics.count(&report.counts, |id, n| {
        config.envoy.increment_counter(id, u64::from(n))
    });
    for note in &report.notes {
        logger::note(note);
    }
}

fn gauges(config: &WardenConfig, now: Now) {
    if let Some(gauges) = config.with_root(|root| root.filter.gauges(now)) {
        config
            .metrics
            .set_gauges(&gauges, |id, value| config.envoy.set_gauge(id, value));
    }
}
