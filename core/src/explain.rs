//! "Why was this token refused?": one request run through the filter's own [`Flow`], with a
//! trace of every step the decision took (rule, providers and their sources, the token, the keys
//! tried, each claim check), for the playground page and `warden-explain`.
//!
//! The answer (status, `WWW-Authenticate`, body, header edits, the verifier call) is the flow's
//! own action, so it is by construction the filter's. The trace beside it calls the same public
//! functions the flow does (`rules`, `extract`, `token`, `crypto`), one step at a time. Nothing
//! here performs I/O: a remote JWKS is a document the caller pastes, the verifier's answer one
//! the caller chooses (by default it allows).

mod dates;
mod input;
mod trace;

pub use dates::iso8601;
pub use input::{Request, VerifierAnswer};
pub use trace::{ClaimCheck, KeyTrace, ProviderTrace, RuleTrace, SourceTrace, TokenTrace};

use crate::answer::LocalResponse;
use crate::config::{Allow, Config, ConfigError, KeySource, PathMatch, Requirement, TokenSource};
use crate::flow::{Action, Call, Event, Filter, Flow, Now, Reply};
use crate::forward::Forwarding;
use crate::Reason;
use serde::Serialize;
use serde_json::{json, Value};

/// A configuration the filter refuses: the field path and why, and the line its log shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub path: String,
    pub reason: String,
    /// The log line, as the filter writes it (`invalid configuration: <path>: <reason>`).
    pub message: String,
}

/// A configuration the filter accepts, summarised.
#[derive(Debug, Serialize)]
pub struct Compiled {
    pub providers: Vec<Value>,
    pub rules: Vec<Value>,
    pub verifier: Option<Value>,
    /// Lines the filter logs when it loads this configuration (keys skipped, a summary).
    pub log: Vec<String>,
}

/// Compiles a plugin configuration the way the filter's `on_configure` does.
pub fn compile(config_json: &str) -> Result<(Filter, Compiled), Rejection> {
    let rejected = |e: ConfigError, message: String| Rejection {
        path: e.path,
        reason: e.reason,
        message,
    };
    // `Filter::configure` is what the plugin runs; `Config::parse` gives the same error, split.
    let (filter, notes) = match Filter::configure(config_json.as_bytes()) {
        Ok(configured) => configured,
        Err(note) => {
            let message = note.to_string();
            return Err(match Config::parse(config_json) {
                Err(e) => rejected(e, message),
                Ok(_) => Rejection {
                    path: String::new(),
                    reason: message.clone(),
                    message,
                },
            });
        }
    };
    let compiled = Compiled {
        providers: summarise_providers(&filter.config),
        rules: filter
            .config
            .rules
            .iter()
            .map(|r| rule_summary(&filter.config, r))
            .collect(),
        verifier: filter.config.verifier.as_ref().map(|v| {
            json!({"cluster": v.cluster, "authority": v.authority, "path": v.path,
            "timeout_ms": v.timeout_ms,
            "failure_mode": match v.failure_mode {
                crate::config::FailureMode::Deny => "deny",
                crate::config::FailureMode::Allow => "allow",
            }})
        }),
        log: notes.iter().map(ToString::to_string).collect(),
    };
    Ok((filter, compiled))
}

/// The whole explanation of one request.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// What the client gets from the filter: its local answer's status, or 200 when the request
    /// is forwarded (the upstream then answers).
    pub status: u32,
    /// The reason code of a refusal; for a forwarded request `allowed` (a token verified),
    /// `unprotected` (no token needed) or `failure_mode_allow` (verifier down, allowed anyway).
    pub reason: String,
    /// `forward` or `respond`.
    pub decision: &'static str,
    /// The step where the request was refused: `rule`, `extract`, `token`, `key`, `signature`,
    /// `claims`, `verifier_request` or `verifier`; `null` when forwarded.
    pub failed_at: Option<&'static str>,
    /// One sentence for a person.
    pub summary: String,
    pub now: i64,
    pub now_iso: String,
    pub request: Value,
    pub rule: RuleTrace,
    pub providers: Vec<ProviderTrace>,
    /// JWKS fetches the filter made for this request (remote providers): the pasted document
    /// stands in for the reply.
    pub jwks_fetches: Vec<Value>,
    /// The verifier call that would be made, and the answer assumed for it.
    pub verifier_call: Option<Value>,
    /// The local answer, when the filter answers instead of forwarding.
    pub answer: Option<Value>,
    pub www_authenticate: Option<String>,
    /// The header edits before forwarding, when forwarded.
    pub forward: Option<Value>,
    /// The request headers the upstream receives, when forwarded.
    pub forwarded_headers: Option<Vec<(String, String)>>,
    /// Lines the filter would log for this request.
    pub log: Vec<String>,
}

/// Runs `request` through the filter configured with `config_json`. `default_now_ms` is the
/// clock when the request names no `now`.
pub fn explain(
    config_json: &str,
    request: &Request,
    default_now_ms: u64,
) -> Result<Explanation, Rejection> {
    let (mut filter, _) = compile(config_json)?;
    let now = match request.now {
        Some(secs) => Now::from_unix_ms(u64::try_from(secs).unwrap_or(0).saturating_mul(1000)),
        None => Now::from_unix_ms(default_now_ms),
    };
    let headers = request.headers();
    let mut log = Vec::new();
    let mut jwks_fetches = Vec::new();

    // The steady state of a VM: every remote key set fetched once (the pasted document, or a
    // failed fetch when none was pasted).
    for (idx, call) in filter.due_fetches(now) {
        let reply = jwks_reply(&filter.config, request, idx);
        jwks_fetches.push(fetch_record(
            &filter.config,
            idx,
            &call,
            &reply,
            "scheduled",
        ));
        let report = filter.keys_fetched(idx, reply, now);
        log.extend(report.notes.iter().map(ToString::to_string));
    }

    let mut flow = Flow::new();
    let mut step = flow.handle(&mut filter, now, Event::RequestHeaders(headers.clone()));
    let mut verifier_call = None;
    let mut verifier_answered = false;
    let mut final_action = None;
    // A request makes at most one JWKS fetch and one verifier call, so four steps suffice; the
    // bound keeps a flow bug from looping.
    for _ in 0..4 {
        log.extend(step.report.notes.iter().map(ToString::to_string));
        match step.action {
            Action::FetchKeys { provider, call } => {
                let reply = jwks_reply(&filter.config, request, provider);
                jwks_fetches.push(fetch_record(
                    &filter.config,
                    provider,
                    &call,
                    &reply,
                    "on demand (unknown kid)",
                ));
                step = flow.handle(&mut filter, now, Event::KeysFetched { provider, reply });
            }
            Action::CallVerifier(call) => {
                let answer = request.verifier.clone().unwrap_or_default();
                let reply = answer.reply();
                verifier_call = Some(call_record(&call, &answer));
                verifier_answered = true;
                step = flow.handle(&mut filter, now, Event::VerifierAnswered(reply));
            }
            action => {
                final_action = Some(action);
                break;
            }
        }
    }

    let trace = trace::trace(&filter, &headers, now.unix_secs);
    let (status, reason, decision, answer, www_authenticate, forward, forwarded_headers) =
        match final_action {
            Some(Action::Respond(response)) => {
                let reason = response_reason(&response);
                let www = header_of(&response.headers, "www-authenticate");
                (
                    response.status,
                    reason,
                    "respond",
                    Some(answer_record(&response)),
                    www,
                    None,
                    None,
                )
            }
            Some(Action::Forward(edits)) => {
                let reason = if trace.protected {
                    if verifier_answered && !verifier_allowed(request) {
                        "failure_mode_allow"
                    } else {
                        "allowed"
                    }
                } else {
                    "unprotected"
                };
                let after = apply(&headers, &edits);
                (
                    200,
                    reason.to_string(),
                    "forward",
                    None,
                    None,
                    Some(json!({"remove": edits.remove, "set": edits.set})),
                    Some(after),
                )
            }
            // Not reachable with the flow's contract; said plainly rather than guessed.
            _ => (
                500,
                "explain_incomplete".to_string(),
                "respond",
                None,
                None,
                None,
                None,
            ),
        };
    let failed_at = failed_at(decision, &reason, verifier_answered, &trace);
    let summary = summary(status, &reason, failed_at, &trace);
    Ok(Explanation {
        status,
        reason,
        decision,
        failed_at,
        summary,
        now: now.unix_secs,
        now_iso: iso8601(now.unix_secs),
        request: json!({"headers": headers}),
        rule: trace.rule,
        providers: trace.providers,
        jwks_fetches,
        verifier_call,
        answer,
        www_authenticate,
        forward,
        forwarded_headers,
        log,
    })
}

fn verifier_allowed(request: &Request) -> bool {
    let answer = request.verifier.clone().unwrap_or_default();
    matches!(answer.reply(), Reply::Answered { status: 200, ref body, .. }
        if crate::protocol::verifier_verdict(Some(200), body) == crate::protocol::Verdict::Allow)
}

fn jwks_reply(config: &Config, request: &Request, idx: usize) -> Reply {
    config
        .providers
        .get(idx)
        .and_then(|p| request.jwks_document(&p.name))
        .map(|doc| Reply::answered(200, doc.as_bytes()))
        .unwrap_or(Reply::Failed)
}

fn fetch_record(config: &Config, idx: usize, call: &Call, reply: &Reply, when: &str) -> Value {
    let provider = config.providers.get(idx).map(|p| p.name.as_str());
    json!({
        "provider": provider,
        "when": when,
        "cluster": call.cluster,
        "method": call.method,
        "path": call.path,
        "authority": call.authority,
        "reply": match reply {
            Reply::Answered { .. } => "the pasted JWKS document",
            _ => "no document pasted: treated as a failed fetch",
        },
    })
}

fn call_record(call: &Call, answer: &VerifierAnswer) -> Value {
    let body = call
        .body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .unwrap_or(Value::Null);
    json!({
        "cluster": call.cluster,
        "method": call.method,
        "path": call.path,
        "authority": call.authority,
        "headers": call.request_headers(),
        "body": body,
        "timeout_ms": call.timeout_ms,
        "assumed_answer": answer.describe(),
    })
}

fn answer_record(response: &LocalResponse) -> Value {
    let body = serde_json::from_str::<Value>(&response.body)
        .unwrap_or_else(|_| Value::String(response.body.clone()));
    json!({"status": response.status, "headers": response.headers, "body": body})
}

fn header_of(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// The reason code in the answer's JSON body (`error_description`), as the filter wrote it.
fn response_reason(response: &LocalResponse) -> String {
    serde_json::from_str::<Value>(&response.body)
        .ok()
        .and_then(|v| v.get("error_description")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The request headers after the edits, as the proxy applies them: removals, then each `set`
/// replacing any value of that name.
pub fn apply(headers: &[(String, String)], edits: &Forwarding) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| !edits.remove.iter().any(|r| r.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    for (name, value) in &edits.set {
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = value.clone(),
            None => out.push((name.clone(), value.clone())),
        }
        // A set replaces every value of the name.
        let mut seen = false;
        out.retain(|(n, _)| {
            if !n.eq_ignore_ascii_case(name) {
                return true;
            }
            let keep = !seen;
            seen = true;
            keep
        });
    }
    out
}

fn failed_at(
    decision: &str,
    reason: &str,
    verifier_answered: bool,
    trace: &trace::Trace,
) -> Option<&'static str> {
    if decision == "forward" {
        return None;
    }
    if reason == Reason::PathRejected.as_str() {
        return Some("rule");
    }
    if verifier_answered {
        return Some("verifier");
    }
    if reason == Reason::TokenMissing.as_str() {
        return Some("extract");
    }
    let stage = trace
        .providers
        .iter()
        .find(|p| p.reason.as_deref() == Some(reason))
        .map(|p| p.stage);
    match stage {
        Some(stage) => Some(stage),
        // A verified token the verifier cannot be asked about (no `sub`, or no `jti` where the
        // provider requires one).
        None if trace.providers.iter().any(|p| p.outcome == "allowed") => Some("verifier_request"),
        None => Some("token"),
    }
}

fn summary(status: u32, reason: &str, failed_at: Option<&str>, trace: &trace::Trace) -> String {
    let rule = match trace.rule.index {
        Some(i) => format!("rule {i}"),
        None => "no rule".to_string(),
    };
    match failed_at {
        None if reason == "unprotected" => {
            format!("Forwarded: {rule} needs no token.")
        }
        None if reason == "failure_mode_allow" => {
            "Forwarded: the verifier could not answer and failure_mode is allow.".to_string()
        }
        None => {
            let who = trace
                .providers
                .iter()
                .find(|p| p.outcome == "allowed")
                .map(|p| p.name.as_str())
                .unwrap_or("?");
            format!("Forwarded: {rule} matched; the token verified with provider {who}.")
        }
        Some(step) => format!("Refused with {status} ({reason}) at step \"{step}\"; {rule}."),
    }
}

fn summarise_providers(config: &Config) -> Vec<Value> {
    config
        .providers
        .iter()
        .map(|p| {
            let req = &p.requirements;
            let keys = match &p.keys {
                KeySource::Local(set) => json!({
                    "local": set.keys.iter().map(trace::key_summary).collect::<Vec<_>>(),
                    "skipped": set.skipped.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
                KeySource::Remote(r) => json!({
                    "remote": {"cluster": r.cluster, "path": r.path, "authority": r.authority,
                               "cache_duration_seconds": r.cache_duration_seconds},
                }),
            };
            json!({
                "name": p.name,
                "issuer": req.issuer,
                "audiences": req.audiences,
                "algorithms": req.algorithms.as_ref().map(|a| a.iter().map(|x| x.name()).collect::<Vec<_>>()),
                "clock_skew_seconds": req.clock_skew_seconds,
                "require_expiration": req.require_expiration,
                "max_token_bytes": req.max_token_bytes,
                "sources": p.sources.iter().map(source_label).collect::<Vec<_>>(),
                "forward": p.forward,
                "require_jti": p.require_jti,
                "keys": keys,
            })
        })
        .collect()
}

fn rule_summary(config: &Config, rule: &crate::config::Rule) -> Value {
    let matcher = match &rule.matcher {
        PathMatch::Prefix(p) => json!({"prefix": p}),
        PathMatch::Exact(p) => json!({"path": p}),
    };
    let requires: Vec<&str> = rule
        .requires
        .as_ref()
        .map(|r| r.providers(config.providers.len()))
        .unwrap_or_default()
        .iter()
        .filter_map(|&i| config.providers.get(i).map(|p| p.name.as_str()))
        .collect();
    json!({
        "match": matcher,
        "requires_any": requires,
        "requires": rule.requires.as_ref().map(|r| requirement_json(config, r)),
        "enforce": rule.enforce,
    })
}

/// A requirement as the configuration writes it.
fn requirement_json(config: &Config, r: &Requirement) -> Value {
    let allow_json = |a: &Allow| match a {
        Allow::Missing => json!({"allow_missing": {}}),
        Allow::MissingOrFailed => json!({"allow_missing_or_failed": {}}),
    };
    match r {
        Requirement::Provider(i) => {
            json!({"provider_name": config.providers.get(*i).map(|p| p.name.as_str())})
        }
        Requirement::All(of) => {
            json!({"requires_all": of.iter().map(|c| requirement_json(config, c)).collect::<Vec<_>>()})
        }
        Requirement::Any { of, allow } => {
            let mut items: Vec<Value> = of.iter().map(|c| requirement_json(config, c)).collect();
            items.extend(allow.iter().map(allow_json));
            json!({"requires_any": items})
        }
        Requirement::Allow(a) => allow_json(a),
    }
}

/// A source as a person reads it: `header authorization (prefix "Bearer ")`.
pub fn source_label(source: &TokenSource) -> String {
    match source {
        TokenSource::Header { name, prefix } if prefix.is_empty() => format!("header {name}"),
        TokenSource::Header { name, prefix } => format!("header {name} (prefix {prefix:?})"),
        TokenSource::Param(name) => format!("query parameter {name}"),
        TokenSource::Cookie(name) => format!("cookie {name}"),
    }
}

#[cfg(test)]
mod tests;
