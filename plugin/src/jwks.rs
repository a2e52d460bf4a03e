//! The root context's scheduled JWKS fetches: started on the tick when due, their replies
//! applied to the shared key sets. (A request's own fetch runs through its flow.)

use crate::host;
use crate::shared::Shared;
use std::collections::HashMap;
use warden_core::flow::{Call, Now, Reply};

#[derive(Default)]
pub struct Fetches {
    /// Call token → the fetch it belongs to.
    out: HashMap<u32, Out>,
}

struct Out {
    provider: usize,
    max_response_bytes: usize,
}

impl Fetches {
    pub fn clear(&mut self) {
        self.out.clear();
    }

    pub fn start_due(&mut self, shared: &Shared, now: Now) {
        let due = shared.filter.borrow_mut().due_fetches(now);
        self.start(shared, due, now);
    }

    /// Sends the fetches of `remote_jwks.fetch_at_start` when the configuration is applied.
    pub fn start_at_configure(&mut self, shared: &Shared, now: Now) {
        let due = shared.filter.borrow_mut().fetches_at_start(now);
        self.start(shared, due, now);
    }

    fn start(&mut self, shared: &Shared, due: Vec<(usize, Call)>, now: Now) {
        for (provider, call) in due {
            match host::dispatch(&call) {
                Ok(token) => {
                    self.out.insert(
                        token,
                        Out {
                            provider,
                            max_response_bytes: call.max_response_bytes,
                        },
                    );
                }
                Err(why) => {
                    let report = shared.filter.borrow_mut().keys_fetched(
                        provider,
                        Reply::NotStarted(why),
                        now,
                    );
                    shared.report(&report);
                }
            }
        }
    }

    /// Applies the reply to call `token`, if it is one of these fetches.
    pub fn finish(&mut self, shared: &Shared, token: u32, body_size: usize, now: Now) {
        let Some(out) = self.out.remove(&token) else {
            return;
        };
        let reply = host::reply(body_size, out.max_response_bytes);
        let report = shared
            .filter
            .borrow_mut()
            .keys_fetched(out.provider, reply, now);
        shared.report(&report);
    }
}
