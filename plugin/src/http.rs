//! One request: ask core for a decision, fetch missing keys or call the verifier when needed,
//! then forward or answer.

use crate::root::{dispatch_jwks_fetch, finish_jwks_fetch, remote_of, Shared, MAX_JWKS_BYTES};
use crate::{log, now, status_of, text_headers};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use warden_core::answer;
use warden_core::auth::{self, Allowed, Authenticator, Outcome};
use warden_core::config::FailureMode;
use warden_core::forward;
use warden_core::protocol::{self, Verdict};
use warden_core::Reason;

/// Largest verifier answer read.
const MAX_VERIFIER_BODY: usize = 4096;

enum Pending {
    None,
    Keys { token: u32, provider: usize },
    Verifier { token: u32, allowed: Allowed },
}

pub struct RequestContext {
    shared: Option<Rc<RefCell<Shared>>>,
    headers: Vec<(String, String)>,
    pending: Pending,
    fetched_keys: bool,
}

impl RequestContext {
    pub fn new(shared: Option<Rc<RefCell<Shared>>>) -> Self {
        RequestContext {
            shared,
            headers: Vec::new(),
            pending: Pending::None,
            fetched_keys: false,
        }
    }

    /// Evaluates the request and acts on the outcome. Returns whether the request may continue now.
    fn evaluate(&mut self) -> bool {
        let Some(shared) = self.shared.clone() else {
            // No valid configuration: fail closed.
            self.deny(None, Reason::VerifierUnavailable);
            return false;
        };
        let (now_s, now_ms) = now(self);
        let (outcome, cache_use) = {
            let mut s = shared.borrow_mut();
            let s = &mut *s;
            let mut ctx = Authenticator {
                config: &s.config,
                keys: &s.keys,
                cache: &mut s.cache,
                now: now_s,
                may_fetch_keys: !self.fetched_keys,
            };
            auth::authenticate(&mut ctx, &self.headers)
        };
        shared
            .borrow()
            .metrics
            .cache(cache_use.hits, cache_use.misses);
        match outcome {
            Outcome::Unprotected => {
                self.forward(&shared, None);
                true
            }
            Outcome::Denied(reason) => {
                self.deny(Some(&shared), reason);
                false
            }
            Outcome::NeedKeys(provider) => self.fetch_keys(&shared, provider, now_ms),
            Outcome::Allowed(allowed) => self.check_with_verifier(&shared, allowed),
        }
    }

    fn fetch_keys(&mut self, shared: &Rc<RefCell<Shared>>, provider: usize, now_ms: u64) -> bool {
        self.fetched_keys = true;
        let remote = remote_of(&shared.borrow().config, provider);
        let started = shared
            .borrow_mut()
            .keys
            .try_start_on_demand(provider, now_ms);
        if let (Some(remote), true) = (remote, started) {
            match dispatch_jwks_fetch(self, &remote) {
                Ok(token) => {
                    self.pending = Pending::Keys { token, provider };
                    return false;
                }
                Err(why) => {
                    let mut s = shared.borrow_mut();
                    s.metrics.jwks_fetch(false);
                    s.keys.finish_fetch(
                        provider,
                        Err(why),
                        remote.cache_duration_seconds * 1000,
                        now_ms,
                    );
                }
            }
        }
        // Rate-limited or the fetch could not start: decide with the keys we have.
        self.evaluate()
    }

    fn check_with_verifier(&mut self, shared: &Rc<RefCell<Shared>>, allowed: Allowed) -> bool {
        let verifier = shared.borrow().config.verifier.clone();
        let Some(verifier) = verifier else {
            self.forward(shared, Some(&allowed));
            shared.borrow().metrics.allowed();
            return true;
        };
        let request = match protocol::check_request(&allowed.claims) {
            Ok(r) => r,
            Err(reason) => {
                self.deny(Some(shared), reason);
                return false;
            }
        };
        let body = match serde_json::to_vec(&request) {
            Ok(b) => b,
            Err(_) => {
                self.verifier_failed(shared, allowed);
                return false;
            }
        };
        let dispatched = self.dispatch_http_call(
            &verifier.cluster,
            vec![
                (":method", "POST"),
                (":path", &verifier.path),
                (":authority", &verifier.authority),
                ("content-type", "application/json"),
            ],
            Some(&body),
            vec![],
            Duration::from_millis(verifier.timeout_ms),
        );
        match dispatched {
            Ok(token) => {
                self.pending = Pending::Verifier { token, allowed };
                false
            }
            Err(status) => {
                log(
                    LogLevel::Error,
                    &format!(
                        "warden: verifier call to cluster {} failed to start ({status:?})",
                        verifier.cluster
                    ),
                );
                self.verifier_failed(shared, allowed)
            }
        }
    }

    /// Applies `failure_mode`; returns whether the request continues.
    fn verifier_failed(&mut self, shared: &Rc<RefCell<Shared>>, allowed: Allowed) -> bool {
        let mode = shared
            .borrow()
            .config
            .verifier
            .as_ref()
            .map(|v| v.failure_mode);
        shared.borrow().metrics.verifier_failure();
        let allow = mode == Some(FailureMode::Allow);
        let (_, now_ms) = now(self);
        let message = if allow {
            "warden: verifier unavailable; request allowed by failure_mode allow"
        } else {
            "warden: verifier unavailable; request denied (failure_mode deny)"
        };
        // One warning per interval, not one per request: an outage must not flood the log.
        let level = if shared.borrow_mut().verifier_warning_due(now_ms) {
            LogLevel::Warn
        } else {
            LogLevel::Debug
        };
        log(level, message);
        if allow {
            shared.borrow().metrics.failure_mode_allowed();
            self.forward(shared, Some(&allowed));
            true
        } else {
            self.deny(Some(shared), Reason::VerifierUnavailable);
            false
        }
    }

    fn forward(&self, shared: &Rc<RefCell<Shared>>, allowed: Option<&Allowed>) {
        let changes = forward::forwarding(&shared.borrow().config, allowed, &self.headers);
        for name in &changes.remove {
            self.set_http_request_header(name, None);
        }
        for (name, value) in &changes.set {
            self.set_http_request_header(name, Some(value));
        }
    }

    fn deny(&self, shared: Option<&Rc<RefCell<Shared>>>, reason: Reason) {
        if let Some(shared) = shared {
            shared.borrow().metrics.denied(reason);
        }
        log(LogLevel::Debug, &format!("warden: denied: {reason}"));
        let answer = answer::deny(reason);
        let headers: Vec<(&str, &str)> = answer
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.send_http_response(answer.status, headers, Some(answer.body.as_bytes()));
    }
}

impl Context for RequestContext {
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let status = status_of(&text_headers(self.get_http_call_response_headers_bytes()));
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Keys { token, provider } if token == token_id => {
                let body = self.get_http_call_response_body(0, body_size.min(MAX_JWKS_BYTES));
                let (_, now_ms) = now(self);
                finish_jwks_fetch(
                    &mut shared.borrow_mut(),
                    provider,
                    status,
                    body,
                    body_size,
                    now_ms,
                );
                if self.evaluate() {
                    self.resume_http_request();
                }
            }
            Pending::Verifier { token, allowed } if token == token_id => {
                let body = if body_size > MAX_VERIFIER_BODY {
                    None
                } else {
                    self.get_http_call_response_body(0, body_size)
                };
                let verdict = match body {
                    Some(b) => protocol::verifier_verdict(status, &b),
                    None if body_size == 0 => protocol::verifier_verdict(status, b""),
                    None => Verdict::Failure,
                };
                let go_on = match verdict {
                    Verdict::Allow => {
                        self.forward(&shared, Some(&allowed));
                        shared.borrow().metrics.allowed();
                        true
                    }
                    Verdict::Deny(reason) => {
                        self.deny(Some(&shared), reason);
                        false
                    }
                    Verdict::Failure => self.verifier_failed(&shared, allowed),
                };
                if go_on {
                    self.resume_http_request();
                }
            }
            other => self.pending = other,
        }
    }
}

impl HttpContext for RequestContext {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.headers = text_headers(self.get_http_request_headers_bytes());
        if self.evaluate() {
            Action::Continue
        } else {
            Action::Pause
        }
    }
}
