//! One request: its events go to core's flow, whose actions this carries out (header edits, a
//! local answer, a JWKS fetch, a verifier call), as the wasm plugin's request context does.

use crate::config::WardenConfig;
use crate::envoy::Stream;
use crate::logger;
use crate::worker::Worker;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use warden_core::flow::{Action, Call, Event, Flow, Now, Reply, Report, RequestInput};

pub struct Request {
    config: Arc<WardenConfig>,
    /// `None` if this worker could not build its state: every request fails closed.
    worker: Option<Rc<Worker>>,
    flow: Flow,
    pending: Option<Pending>,
}

/// The callout this request waits for.
struct Pending {
    id: u64,
    keys_of: Option<usize>,
    max_response_bytes: usize,
}

pub fn now() -> Now {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    Now::from_unix_ms(ms)
}

impl Request {
    pub fn new(config: Arc<WardenConfig>) -> Request {
        let worker = crate::worker::for_config(&config);
        Request {
            config,
            worker,
            flow: Flow::new(),
            pending: None,
        }
    }

    /// Whether a decision is still out (the body and trailers wait for it).
    pub fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// The request headers arrived; whether to let them through now.
    pub fn on_headers(&mut self, stream: Stream) -> bool {
        let now = now();
        let Some(worker) = self.worker.clone() else {
            return self.fail_closed(stream);
        };
        worker.catch_up(&self.config);
        // Without the header map neither the rule nor the spoofed claim headers are known.
        let Some(headers) = stream.request_headers() else {
            return self.fail_closed(stream);
        };
        #[cfg(feature = "fault-injection")]
        fault_injection(&headers);
        let event = {
            let filter = worker.filter.borrow();
            let config = &filter.config;
            let route_metadata = config.reads_route_metadata.then(|| stream.route_metadata());
            let filter_state = config
                .filter_state_rules
                .as_ref()
                .and_then(|f| stream.filter_state(&f.name));
            Event::Request(RequestInput {
                headers,
                route_metadata,
                filter_state,
            })
        };
        self.run(stream, &worker, now, event)
    }

    /// The reply to callout `id`, if it is the one this request waits for; whether the request
    /// is now let through.
    pub fn on_callout_done(
        &mut self,
        stream: Stream,
        id: u64,
        reply: impl FnOnce(usize) -> Reply,
    ) -> bool {
        let Some(pending) = self.pending.take_if(|p| p.id == id) else {
            return false;
        };
        let Some(worker) = self.worker.clone() else {
            return false;
        };
        let reply = reply(pending.max_response_bytes);
        let event = match pending.keys_of {
            Some(provider) => Event::KeysFetched { provider, reply },
            None => Event::VerifierAnswered(reply),
        };
        self.run(stream, &worker, now(), event)
    }

    /// The read bound of the callout this request waits for, if `id` is it.
    pub fn read_bound(&self, id: u64) -> Option<usize> {
        self.pending
            .as_ref()
            .filter(|p| p.id == id)
            .map(|p| p.max_response_bytes)
    }

    /// Feeds `event` to the flow and carries out what follows; whether the request was
    /// forwarded.
    fn run(&mut self, stream: Stream, worker: &Worker, now: Now, event: Event) -> bool {
        let mut event = event;
        loop {
            let step = self
                .flow
                .handle(&mut worker.filter.borrow_mut(), now, event);
            self.report(stream, &step.report);
            // A call Envoy refuses to start goes back to the flow as its reply.
            event = match step.action {
                Action::FetchKeys { provider, call } => {
                    match self.start(stream, &call, Some(provider)) {
                        Ok(()) => return false,
                        Err(why) => Event::KeysFetched {
                            provider,
                            reply: Reply::NotStarted(why),
                        },
                    }
                }
                Action::CallVerifier(call) => match self.start(stream, &call, None) {
                    Ok(()) => return false,
                    Err(why) => Event::VerifierAnswered(Reply::NotStarted(why)),
                },
                decision => return decide(stream, decision),
            };
        }
    }

    fn start(&mut self, stream: Stream, call: &Call, keys_of: Option<usize>) -> Result<(), String> {
        let id = stream.callout(call)?;
        self.pending = Some(Pending {
            id,
            keys_of,
            max_response_bytes: call.max_response_bytes,
        });
        Ok(())
    }

    /// Counts, logs and writes the filter state of a step.
    fn report(&self, stream: Stream, report: &Report) {
        self.config.metrics.count(&report.counts, |id, n| {
            stream.increment_counter(id, u64::from(n))
        });
        for note in &report.notes {
            logger::note(note);
        }
        for (key, value) in &report.filter_state {
            stream.set_filter_state(key, value);
        }
    }

    /// Refuses the request as core does without a configuration (503); returns false.
    fn fail_closed(&self, stream: Stream) -> bool {
        let step = Flow::unconfigured();
        self.report(stream, &step.report);
        decide(stream, step.action)
    }

    /// A panic at one of this request's hooks: 503, counted.
    pub fn panicked(&mut self, stream: Stream) {
        self.pending = None;
        if let Some(id) = self.config.panics {
            stream.increment_counter(id, 1);
        }
        let step = Flow::unconfigured();
        decide(stream, step.action);
    }
}

/// Test builds only: `x-warden-fault: panic` panics here.
#[cfg(feature = "fault-injection")]
#[allow(clippy::panic)] // the point of this test hook
fn fault_injection(headers: &[(String, String)]) {
    if headers
        .iter()
        .any(|(name, value)| name == "x-warden-fault" && value == "panic")
    {
        panic!("fault injection: x-warden-fault: panic");
    }
}

/// Forwards or answers; whether the request was forwarded.
fn decide(stream: Stream, action: Action) -> bool {
    match action {
        Action::Forward(edits) => {
            for name in &edits.remove {
                stream.remove_request_header(name);
            }
            for (name, value) in &edits.set {
                stream.set_request_header(name, value);
            }
            if edits.clear_route_cache {
                stream.clear_route_cache();
            }
            true
        }
        Action::Respond(answer) => {
            stream.respond(&answer);
            false
        }
        Action::FetchKeys { .. } | Action::CallVerifier(_) | Action::Nothing => false,
    }
}
