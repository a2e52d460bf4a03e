//! Stream mode: the root context long-polls the verifier's revocation feed and applies each
//! answer to this VM's revocation view (in core's `Filter`), which the request contexts read
//! through `Shared` with no call of their own.
//!
//! Each VM (Envoy worker) keeps its own view and its own poll rather than one singleton VM
//! publishing the view through shared data: a request then reads plain maps of its own VM, and
//! no copy of the view is (de)serialised per change; the price is one long-poll per worker.

use crate::host;
use crate::shared::Shared;
use warden_core::flow::{Now, Reply};

#[derive(Default)]
pub struct Poller {
    /// Token, read bound and send time of the poll in flight.
    in_flight: Option<(u32, usize, Now)>,
    /// No poll starts before this time (ms).
    next_at_ms: u64,
}

impl Poller {
    pub fn clear(&mut self) {
        *self = Poller::default();
    }

    /// Starts the next poll unless one is in flight or a pause is running.
    pub fn start(&mut self, shared: &Shared, now: Now) {
        if self.in_flight.is_some() || now.unix_ms < self.next_at_ms {
            return;
        }
        let Some(call) = shared.filter.borrow().revocation_poll() else {
            return;
        };
        match host::dispatch(&call) {
            Ok(token) => self.in_flight = Some((token, call.max_response_bytes, now)),
            Err(why) => self.answered(shared, &Reply::NotStarted(why), now, now),
        }
    }

    /// Applies the reply to call `token` if it is this poll's, and starts the next one.
    pub fn finish(&mut self, shared: &Shared, token: u32, body_size: usize, now: Now) -> bool {
        let Some((_, max_bytes, sent)) = self.in_flight.take_if(|(t, _, _)| *t == token) else {
            return false;
        };
        let reply = host::reply(body_size, max_bytes);
        // What the answer confirms is as of the send: the verifier read the feed after it.
        self.answered(shared, &reply, sent, now);
        self.start(shared, now);
        true
    }

    fn answered(&mut self, shared: &Shared, reply: &Reply, sent: Now, now: Now) {
        let report = shared
            .filter
            .borrow_mut()
            .revocations_answered(reply, sent, now);
        shared.report(&report);
        let pause = shared.filter.borrow().feed_pause_ms(&report);
        self.next_at_ms = now.unix_ms.saturating_add(pause);
    }
}
