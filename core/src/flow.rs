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
pub use filter::{
    Filter, Gauges, StreamGauges, STREAM_TICK_MS, TICK_MS, VERIFIER_WARNING_INTERVAL_MS,
};
pub use report::{stat_segment, Counts, Level, Note, Report};

use crate::answer::{self, LocalResponse};
use crate::auth::{self, Allowed, Applied, Authenticator, Inputs, Outcome, Refused};
use crate::claims_state;
use crate::config::FailureMode;
use crate::extract;
use crate::forward::{self, Forwarding};
use crate::protocol::{self, Verdict};
use crate::route::{self, RouteChoice};
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
    /// The request's headers, names in lower case (the route's metadata and filter state not
    /// read: path rules decide).
    RequestHeaders(Vec<(String, String)>),
    /// The request's headers and what the host read for route selection.
    Request(RequestInput),
    /// The reply to this request's [`Action::FetchKeys`] for `provider`.
    KeysFetched { provider: usize, reply: Reply },
    /// The reply to this request's [`Action::CallVerifier`].
    VerifierAnswered(Reply),
}

/// A request as the adapter hands it over.
#[derive(Debug, Default)]
pub struct RequestInput {
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    /// The route's `warden` metadata, read by the adapter only when the configuration has
    /// `requirements`.
    pub route_metadata: Option<route::RouteMetadata>,
    /// The value of filter state `filter_state_rules.name`, read by the adapter only when the
    /// configuration has `filter_state_rules`.
    pub filter_state: Option<String>,
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
    /// Waiting for the verifier's answer about `allowed.tokens[token]`.
    AwaitingVerifier {
        allowed: Allowed,
        token: usize,
    },
    Decided,
}

#[derive(Debug)]
pub struct Flow {
    headers: Vec<(String, String)>,
    stage: Stage,
    /// Whether this request already had its one JWKS fetch.
    fetched_keys: bool,
    route: RouteChoice,
    filter_state: Option<String>,
    /// Tokens the verifier passed (provider, source): not asked again when the requirement is
    /// evaluated again.
    checked: Vec<(usize, usize)>,
    /// Tokens the verifier refused (or could not vouch for): failing tokens on re-evaluation.
    refused: Vec<Refused>,
    /// The rule or requirement that applied, once decided.
    applied: Option<Applied>,
    /// A token was let through by `failure_mode allow`: the request counts there, not as allowed.
    failure_mode_allowed: bool,
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
            route: RouteChoice::PathRules,
            filter_state: None,
            checked: Vec::new(),
            refused: Vec::new(),
            applied: None,
            failure_mode_allowed: false,
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

    /// `bypass_cors_preflight`: a CORS preflight is forwarded whatever the rules, as jwt_authn.
    pub fn handle(&mut self, filter: &mut Filter, now: Now, event: Event) -> Step {
        let mut report = Report::default();
        let stage = std::mem::replace(&mut self.stage, Stage::Decided);
        let action = match (stage, event) {
            (Stage::Start, Event::RequestHeaders(headers)) => {
                self.headers = headers;
                if self.cors_preflight_bypassed(filter, &mut report) {
                    self.forward(filter, None)
                } else {
                    self.evaluate(filter, now, &mut report)
                }
            }
            (Stage::Start, Event::Request(input)) => {
                self.headers = input.headers;
                self.filter_state = input.filter_state;
                // As jwt_authn: a preflight is let through before any route or rule is read.
                if self.cors_preflight_bypassed(filter, &mut report) {
                    let action = self.forward(filter, None);
                    return Step { action, report };
                }
                match input
                    .route_metadata
                    .as_ref()
                    .map(route::RouteMetadata::choice)
                {
                    None => self.evaluate(filter, now, &mut report),
                    Some(Ok(choice)) => {
                        self.route = choice;
                        self.evaluate(filter, now, &mut report)
                    }
                    // Unreadable route metadata: the route meant something we cannot tell, so
                    // fail closed as for an unknown name.
                    Some(Err(why)) => {
                        report
                            .notes
                            .push(Note::RouteMetadataUnreadable(why.to_string()));
                        self.refuse(filter, Reason::RequirementUnknown, None, &mut report)
                    }
                }
            }
            (Stage::AwaitingKeys(waiting), Event::KeysFetched { provider, reply })
                if waiting == provider =>
            {
                report.merge(filter.keys_fetched(provider, reply, now));
                self.evaluate(filter, now, &mut report)
            }
            (Stage::AwaitingVerifier { allowed, token }, Event::VerifierAnswered(reply)) => {
                self.verifier_answered(filter, now, allowed, token, reply, &mut report)
            }
            (stage, _) => {
                self.stage = stage;
                Action::Nothing
            }
        };
        let action = match action {
            Action::Respond(answer) if filter.config.strip_failure_response => {
                Action::Respond(answer::stripped(answer))
            }
            other => other,
        };
        Step { action, report }
    }

    /// `bypass_cors_preflight`: whether this request is a CORS preflight to let through
    /// unchecked (counted).
    fn cors_preflight_bypassed(&self, filter: &Filter, report: &mut Report) -> bool {
        let bypass =
            filter.config.bypass_cors_preflight && extract::is_cors_preflight(&self.headers);
        if bypass {
            report.counts.cors_preflight_bypassed += 1;
        }
        bypass
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
            let inputs = Inputs {
                route: Some(&self.route),
                filter_state: self.filter_state.as_deref(),
                refused: &self.refused,
            };
            let decision = auth::decide(&mut ctx, &self.headers, inputs);
            report.counts.cache_hits += decision.used.hits;
            report.counts.cache_misses += decision.used.misses;
            self.applied = decision.applied;
            return match decision.outcome {
                Outcome::Unprotected => self.forward(filter, None),
                Outcome::Denied(reason) => {
                    self.refuse(filter, reason, decision.failed_provider, report)
                }
                Outcome::Allowed(allowed) => match self.check(filter, now, allowed, report) {
                    Some(action) => action,
                    None => continue,
                },
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

    /// Tokens that verified locally: each one used must pass the verifier, if one is
    /// configured (stream mode: the view when trusted; otherwise one call per token, one after
    /// another). `None`: a token was refused, evaluate the requirement again without it.
    fn check(
        &mut self,
        filter: &mut Filter,
        now: Now,
        allowed: Allowed,
        report: &mut Report,
    ) -> Option<Action> {
        let Some(verifier) = &filter.config.verifier else {
            return Some(self.allow(filter, &allowed, report));
        };
        for (i, token) in allowed.tokens.iter().enumerate() {
            let key = (token.provider, token.source);
            if self.checked.contains(&key) {
                continue;
            }
            let require_jti = filter
                .config
                .providers
                .get(token.provider)
                .is_none_or(|p| p.require_jti);
            let request = match protocol::check_request_with(&token.claims, require_jti) {
                Ok(r) => r,
                Err(reason) => {
                    self.refuse_token(key, reason);
                    return None;
                }
            };
            // Stream mode with a trusted view: decided here, no call.
            let local = filter
                .revocations
                .as_ref()
                .and_then(|view| view.decide(&request, now.unix_ms));
            match local {
                Some(Verdict::Allow) => {
                    self.checked.push(key);
                    continue;
                }
                Some(Verdict::Deny(reason)) => {
                    self.refuse_token(key, reason);
                    return None;
                }
                Some(Verdict::Failure) | None => {}
            }
            let Ok(body) = serde_json::to_vec(&request) else {
                return self.verifier_failed(filter, now, allowed, i, report);
            };
            let call = Call::verifier(verifier, body, trace::propagated(&self.headers));
            self.stage = Stage::AwaitingVerifier { allowed, token: i };
            return Some(Action::CallVerifier(call));
        }
        Some(self.allow(filter, &allowed, report))
    }

    fn refuse_token(&mut self, (provider, source): (usize, usize), reason: Reason) {
        self.refused.push(Refused {
            provider,
            source,
            reason,
        });
    }

    fn verifier_answered(
        &mut self,
        filter: &mut Filter,
        now: Now,
        allowed: Allowed,
        token: usize,
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
        let key = allowed
            .tokens
            .get(token)
            .map(|t| (t.provider, t.source))
            .unwrap_or_default();
        let next = match verdict {
            Verdict::Allow => {
                self.checked.push(key);
                self.check(filter, now, allowed, report)
            }
            Verdict::Deny(reason) => {
                self.refuse_token(key, reason);
                None
            }
            Verdict::Failure => self.verifier_failed(filter, now, allowed, token, report),
        };
        match next {
            Some(action) => action,
            None => self.evaluate(filter, now, report),
        }
    }

    /// No usable verifier answer about `allowed.tokens[token]`: `failure_mode` decides. `allow`
    /// takes the token as checked; `deny` refuses it with `verifier_unavailable`, which denies
    /// the request unless the requirement can do without that token (`allow_missing_or_failed`:
    /// the token is then taken out and its claims unused).
    fn verifier_failed(
        &mut self,
        filter: &mut Filter,
        now: Now,
        allowed: Allowed,
        token: usize,
        report: &mut Report,
    ) -> Option<Action> {
        report.counts.verifier_failures += 1;
        let allow =
            filter.config.verifier.as_ref().map(|v| v.failure_mode) == Some(FailureMode::Allow);
        let warn = filter.verifier_warning_due(now.unix_ms);
        report.notes.push(Note::VerifierUnavailable {
            allowed: allow,
            warn,
        });
        let key = allowed
            .tokens
            .get(token)
            .map(|t| (t.provider, t.source))
            .unwrap_or_default();
        if allow {
            report.counts.failure_mode_allowed += 1;
            self.failure_mode_allowed = true;
            self.checked.push(key);
            self.check(filter, now, allowed, report)
        } else {
            self.refuse_token(key, Reason::VerifierUnavailable);
            None
        }
    }

    /// Every used token passed: forward with their claims.
    fn allow(&mut self, filter: &Filter, allowed: &Allowed, report: &mut Report) -> Action {
        let tokens: Vec<_> = allowed
            .tokens
            .iter()
            .map(|t| (t.provider, &*t.claims, t.source))
            .collect();
        let entries = claims_state::for_tokens(&filter.config, &tokens, &self.headers);
        record_claims_state(
            filter,
            allowed.primary().map(|t| t.provider),
            entries,
            report,
        );
        // A failed token the requirement did without still records its failure status, as jwt_authn's
        // failed_status_in_metadata does.
        for &(provider, reason) in &allowed.set_aside {
            let entries = claims_state::for_failure(&filter.config, Some(provider), reason);
            record_claims_state(filter, Some(provider), entries, report);
        }
        if !self.failure_mode_allowed {
            report.counts.allowed += 1;
        }
        report.counts.provider = allowed.primary().map(|t| t.provider);
        if self.applied.is_some() {
            report
                .filter_state
                .push((DECISION_KEY.into(), "allowed".into()));
            if let Some(p) = allowed
                .primary()
                .and_then(|t| filter.config.providers.get(t.provider))
            {
                report
                    .filter_state
                    .push((PROVIDER_KEY.into(), p.name.clone()));
            }
        }
        self.forward(filter, Some(allowed))
    }

    fn forward(&mut self, filter: &Filter, allowed: Option<&Allowed>) -> Action {
        self.stage = Stage::Decided;
        Action::Forward(forward::forwarding(&filter.config, allowed, &self.headers))
    }

    /// The request fails its requirement with `reason` (decided by `provider`'s token, when
    /// one): denied, or, when the rule or that provider is not enforced, forwarded as if no
    /// rule applied and recorded as report-only.
    fn refuse(
        &mut self,
        filter: &Filter,
        reason: Reason,
        provider: Option<usize>,
        report: &mut Report,
    ) -> Action {
        let entries = claims_state::for_failure(&filter.config, provider, reason);
        record_claims_state(filter, provider, entries, report);
        report.counts.provider = provider;
        let provider = provider.and_then(|p| filter.config.providers.get(p));
        let provider_name = provider.map_or("-", |p| p.name.as_str()).to_string();
        if let Some(applied) = &self.applied {
            let report_only = !applied.enforce() || provider.is_some_and(|p| !p.enforce);
            // An unknown requirement is a fault of the route table, not of a token: never
            // report-only.
            if report_only && reason != Reason::RequirementUnknown {
                let status = answer::deny(reason).status;
                report.counts.report_only = Some(reason);
                report.notes.push(Note::ReportOnly {
                    reason,
                    provider: provider_name.clone(),
                    rule: applied.to_string(),
                });
                report.filter_state.push((
                    REPORT_ONLY_KEY.into(),
                    format!(
                        "reason={reason} provider={provider_name} rule={} status={status}",
                        applied.label()
                    ),
                ));
                report
                    .filter_state
                    .push((DECISION_KEY.into(), "report_only".into()));
                if provider.is_some() {
                    report
                        .filter_state
                        .push((PROVIDER_KEY.into(), provider_name));
                }
                return self.forward(filter, None);
            }
            report
                .filter_state
                .push((DECISION_KEY.into(), "denied".into()));
            if provider.is_some() {
                report
                    .filter_state
                    .push((PROVIDER_KEY.into(), provider_name));
            }
        }
        if let (Reason::RequirementUnknown, Some(Applied::Requirement(name))) =
            (reason, &self.applied)
        {
            report.notes.push(Note::RequirementUnknown(name.clone()));
        }
        self.deny(reason, report)
    }

    fn deny(&mut self, reason: Reason, report: &mut Report) -> Action {
        self.stage = Stage::Decided;
        report.counts.denied = Some(reason);
        report.notes.push(Note::Denied(reason));
        Action::Respond(answer::deny(reason))
    }
}

/// Filter state written on every request a rule or requirement applied to: `allowed`,
/// `denied` or `report_only`.
pub const DECISION_KEY: &str = "warden.decision";
/// Filter state: the provider whose token the decision used (or whose token failed).
pub const PROVIDER_KEY: &str = "warden.provider";
/// Filter state on a report-only request: `reason=… provider=… rule=… status=…`.
pub const REPORT_ONLY_KEY: &str = "warden.report_only";

/// Claims filter state for the step (written before its action), and a note when some of it was
/// left out.
fn record_claims_state(
    filter: &Filter,
    provider: Option<usize>,
    entries: claims_state::Entries,
    report: &mut Report,
) {
    if entries.skipped > 0 {
        let provider = provider
            .and_then(|i| filter.config.providers.get(i))
            .map(|p| p.name.clone())
            .unwrap_or_default();
        report.notes.push(Note::FilterStateSkipped {
            provider,
            entries: entries.skipped,
        });
    }
    report.filter_state.extend(entries.written);
}
