//! One request: its events go to core's flow, whose actions this carries out (header edits, a
//! local answer, a JWKS fetch, a verifier call).

use crate::host;
use crate::logger;
use crate::shared::Shared;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action as Proceed;
use std::rc::Rc;
use warden_core::flow::{Action, Call, Event, Flow, Now, Reply, RequestInput};

pub struct RequestContext {
    /// `None` while the filter has no valid configuration.
    shared: Option<Rc<Shared>>,
    flow: Flow,
    pending: Option<Pending>,
}

/// The call this request waits for.
struct Pending {
    token: u32,
    keys_of: Option<usize>,
    max_response_bytes: usize,
}

impl RequestContext {
    pub fn new(shared: Option<Rc<Shared>>) -> Self {
        RequestContext {
            shared,
            flow: Flow::new(),
            pending: None,
        }
    }

    /// Feeds `event` to the flow and carries out what follows; returns whether the request was
    /// forwarded.
    fn run(&mut self, now: Now, event: Event) -> bool {
        let Some(shared) = self.shared.clone() else {
            return fail_closed();
        };
        let mut event = event;
        loop {
            let step = self
                .flow
                .handle(&mut shared.filter.borrow_mut(), now, event);
            shared.report(&step.report);
            // A call the proxy refuses to start goes back to the flow as its reply.
            event = match step.action {
                Action::FetchKeys { provider, call } => match self.start(&call, Some(provider)) {
                    Ok(()) => return false,
                    Err(why) => Event::KeysFetched {
                        provider,
                        reply: Reply::NotStarted(why),
                    },
                },
                Action::CallVerifier(call) => match self.start(&call, None) {
                    Ok(()) => return false,
                    Err(why) => Event::VerifierAnswered(Reply::NotStarted(why)),
                },
                decision => return decide(decision),
            };
        }
    }

    /// The request headers, with the route metadata and filter state only when the
    /// configuration selects requirements by them (each read is a host call).
    fn request_event(&self, headers: Vec<(String, String)>) -> Event {
        let Some(shared) = &self.shared else {
            return Event::RequestHeaders(headers);
        };
        let filter = shared.filter.borrow();
        let config = &filter.config;
        let route_metadata = (!config.requirements.is_empty()).then(host::route_metadata);
        let filter_state = config
            .filter_state_rules
            .as_ref()
            .and_then(|f| host::filter_state(&f.name));
        Event::Request(RequestInput {
            headers,
            route_metadata,
            filter_state,
        })
    }

    fn start(&mut self, call: &Call, keys_of: Option<usize>) -> Result<(), String> {
        let token = host::dispatch(call)?;
        self.pending = Some(Pending {
            token,
            keys_of,
            max_response_bytes: call.max_response_bytes,
        });
        Ok(())
    }
}

/// Refuses the request as core does without a configuration (503); returns false.
fn fail_closed() -> bool {
    let step = Flow::unconfigured();
    for note in &step.report.notes {
        logger::note(note);
    }
    decide(step.action)
}

/// Forwards or answers; returns whether the request was forwarded.
fn decide(action: Action) -> bool {
    match action {
        Action::Forward(edits) => {
            host::edit_request_headers(&edits);
            true
        }
        Action::Respond(answer) => {
            host::respond(&answer);
            false
        }
        Action::FetchKeys { .. } | Action::CallVerifier(_) | Action::Nothing => false,
    }
}

impl Context for RequestContext {
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        let Some(pending) = self.pending.take_if(|p| p.token == token_id) else {
            return;
        };
        let reply = host::reply(body_size, pending.max_response_bytes);
        let event = match pending.keys_of {
            Some(provider) => Event::KeysFetched { provider, reply },
            None => Event::VerifierAnswered(reply),
        };
        if self.run(host::now(), event) {
            host::resume_request();
        }
    }
}

impl HttpContext for RequestContext {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Proceed {
        let now = host::now();
        logger::follow_level(now.unix_ms);
        // Without the header map neither the rule nor the spoofed claim headers are known.
        let forwarded = match host::request_headers() {
            Some(headers) => {
                let event = self.request_event(headers);
                self.run(now, event)
            }
            None => fail_closed(),
        };
        if forwarded {
            Proceed::Continue
        } else {
            Proceed::Pause
        }
    }
}
