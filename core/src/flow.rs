//! One request's way through the filter, as a state machine free of any proxy. The adapter feeds
//! a [`Flow`] events (the request headers, the reply to a call it asked for) and carries out the
//! [`Action`] each step returns: forward with header edits, answer, fetch keys, call the
//! verifier. Counters and log lines come back as data ([`Report`]). Time is passed in.
//!
//! A request that needs nothing remote is decided by its first step. Otherwise the step asks for
//! one call and the flow waits for its reply; a request makes at most one JWKS fetch.

mod call;
mod filter;
mod report;
pub mod trace;

pub use call::{Call, Reply, MAX_JWKS_BYTES, MAX_VERIFIER_BODY};
pub use filter::{Filter, STREAM_TICK_MS, TICK_MS, VERIFIER_WARNING_INTERVAL_MS};
pub use report::{Counts, Level, Note, Report};

use crate::answer::{self, LocalResponse};
use crate::auth::{self, Allowed, Authenticator, Outcome};
use crate::config::FailureMode;
use crate::forward::{self, Forwarding};
use crate::protocol::{self, Verdict};
use crate::Reason;

/// The proxy's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub unix_secs: i64,
    pub unix_ms: u64,
}

impl Now {
    pub fn from_unix_ms(unix_ms: u64) -> Now {
        Now {
            unix_secs: i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX),
            unix_ms,
        }
    }
}

#[derive(Debug)]
pub enum Event {
    /// The request's headers, names in lower case.
    RequestHeaders(Vec<(String, String)>),
    /// The reply to this request's [`Action::FetchKeys`] for `provider`.
    KeysFetched { provider: usize, reply: Reply },
    /// The reply to this request's [`Action::CallVerifier`].
    VerifierAnswered(Reply),
}

#[derive(Debug)]
pub enum Action {
    /// Send the request upstream after these header edits.
    Forward(Forwarding),
    /// Answer the client with this instead of forwarding.
    Respond(LocalResponse),
    /// Fetch `provider`'s JWKS with `call`; its reply comes back as [`Event::KeysFetched`].
    FetchKeys { provider: usize, call: Call },
    /// Ask the verifier with `call`; its reply comes back as [`Event::VerifierAnswered`].
    CallVerifier(Call),
    /// Nothing to do: the event was not the one this flow waits for.
    Nothing,
}

#[derive(Debug)]
pub struct Step {
    pub action: Action,
    pub report: Report,
}

#[derive(Debug)]
enum Stage {
    Start,
    AwaitingKeys(usize),
    AwaitingVerifier(Allowed),
    Decided,
}

#[derive(Debug)]
pub struct Flow {
    headers: Vec<(String, String)>,
    stage: Stage,
    /// Whether this request already had its one JWKS fetch.
    fetched_keys: bool,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new()
    }
}

impl Flow {
    pub fn new() -> Flow {
        Flow {
            headers: Vec::new(),
            stage: Stage::Start,
            fetched_keys: false,
        }
    }

    /// The answer to a request that arrives while the filter has no valid configuration: fail
    /// closed.
    pub fn unconfigured() -> Step {
        let mut report = Report::default();
        report.notes.push(Note::Denied(Reason::VerifierUnavailable));
        Step {
            action: Action::Respond(answer::deny(Reason::VerifierUnavailable)),
            report,
        }
    }

    pub fn handle(&mut self, filter: &mut Filter, now: Now, event: Event) -> Step {
        let mut report = Report::default();
        let stage = std::mem::replace(&mut self.stage, Stage::Decided);
        let action = match (stage, event) {
            (Stage::Start, Event::RequestHeaders(headers)) => {
                self.headers = headers;
                self.evaluate(filter, now, &mut report)
            }
            (Stage::AwaitingKeys(waiting), Event::KeysFetched { provider, reply })
                if waiting == provider =>
            {
                report.merge(filter.keys_fetched(provider, reply, now));
                self.evaluate(filter, now, &mut report)
            }
            (Stage::AwaitingVerifier(allowed), Event::VerifierAnswered(reply)) => {
                self.verifier_answered(filter, now, allowed, reply, &mut report)
            }
            (stage, _) => {
                self.stage = stage;
                Action::Nothing
            }
        };
        Step { action, report }
    }

    fn evaluate(&mut self, filter: &mut Filter, now: Now, report: &mut Report) -> Action {
        loop {
            let mut ctx = Authenticator {
                config: &filter.config,
                keys: &filter.keys,
                cache: &mut filter.cache,
                now: now.unix_secs,
                may_fetch_keys: !self.fetched_keys,
            };
            let (outcome, used) = auth::authenticate(&mut ctx, &self.headers);
            report.counts.cache_hits += used.hits;
            report.counts.cache_misses += used.misses;
            return match outcome {
                Outcome::Unprotected => self.forward(filter, None),
                Outcome::Denied(reason) => self.deny(reason, report),
                Outcome::Allowed(allowed) => self.check(filter, now, allowed, report),
                Outcome::NeedKeys(provider) => {
                    self.fetched_keys = true;
                    match filter.start_on_demand_fetch(provider, now) {
                        Some(call) => {
                            self.stage = Stage::AwaitingKeys(provider);
                            Action::FetchKeys { provider, call }
                        }
                        // Rate-limited: decide with the keys we have.
                        None => continue,
                    }
                }
            };
        }
    }

    /// A token that verified locally: ask the verifier, if one is configured.
    fn check(
        &mut self,
        filter: &mut Filter,
        now: Now,
        allowed: Allowed,
        report: &mut Report,
    ) -> Action {
        let Some(verifier) = &filter.config.verifier else {
            report.counts.allowed += 1;
            return self.forward(filter, Some(&allowed));
        };
        let require_jti = filter
            .config
            .providers
            .get(allowed.provider)
            .is_none_or(|p| p.require_jti);
        let request = match protocol::check_request_with(&allowed.claims, require_jti) {
            Ok(r) => r,
            Err(reason) => return self.deny(reason, report),
        };
        // Stream mode with a trusted view: decided here, no call.
        let local = filter
            .revocations
            .as_ref()
            .and_then(|view| view.decide(&request, now.unix_ms));
        match local {
            Some(Verdict::Allow) => {
                report.counts.allowed += 1;
                return self.forward(filter, Some(&allowed));
            }
            Some(Verdict::Deny(reason)) => return self.deny(reason, report),
            Some(Verdict::Failure) | None => {}
        }
        let Ok(body) = serde_json::to_vec(&request) else {
            return self.verifier_failed(filter, now, allowed, report);
        };
        let call = Call::verifier(verifier, body, trace::propagated(&self.headers));
        self.stage = Stage::AwaitingVerifier(allowed);
        Action::CallVerifier(call)
    }

    fn verifier_answered(
        &mut self,
        filter: &mut Filter,
        now: Now,
        allowed: Allowed,
        reply: Reply,
        report: &mut Report,
    ) -> Action {
        let verdict = match reply {
            Reply::Answered { size, .. } if size > MAX_VERIFIER_BODY => Verdict::Failure,
            Reply::Answered { status, body, .. } => protocol::verifier_verdict(Some(status), &body),
            Reply::Failed => Verdict::Failure,
            Reply::NotStarted(why) => {
                let cluster = filter
                    .config
                    .verifier
                    .as_ref()
                    .map(|v| v.cluster.clone())
                    .unwrap_or_default();
                report.notes.push(Note::VerifierNotStarted { cluster, why });
                Verdict::Failure
            }
        };
        match verdict {
            Verdict::Allow => {
                report.counts.allowed += 1;
                self.forward(filter, Some(&allowed))
            }
            Verdict::Deny(reason) => self.deny(reason, report),
            Verdict::Failure => self.verifier_failed(filter, now, allowed, report),
        }
    }

    /// No usable verifier answer: `failure_mode` decides.
    fn verifier_failed(
        &mut self,
        filter: &mut Filter,
        now: Now,
        allowed: Allowed,
        report: &mut Report,
    ) -> Action {
        report.counts.verifier_failures += 1;
        let allow =
            filter.config.verifier.as_ref().map(|v| v.failure_mode) == Some(FailureMode::Allow);
        let warn = filter.verifier_warning_due(now.unix_ms);
        report.notes.push(Note::VerifierUnavailable {
            allowed: allow,
            warn,
        });
        if allow {
            report.counts.failure_mode_allowed += 1;
            self.forward(filter, Some(&allowed))
        } else {
            self.deny(Reason::VerifierUnavailable, report)
        }
    }

    fn forward(&mut self, filter: &Filter, allowed: Option<&Allowed>) -> Action {
        self.stage = Stage::Decided;
        Action::Forward(forward::forwarding(&filter.config, allowed, &self.headers))
    }

    fn deny(&mut self, reason: Reason, report: &mut Report) -> Action {
        self.stage = Stage::Decided;
        report.counts.denied = Some(reason);
        report.notes.push(Note::Denied(reason));
        Action::Respond(answer::deny(reason))
    }
}
