#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The jwt_authn provider and filter fields: `subjects`, `max_lifetime_seconds`,
//! `forward_payload_header` (+ padding), `clear_route_cache`, `bypass_cors_preflight`,
//! `strip_failure_response`, `token_cache_size`, `remote_jwks.fetch_at_start` and `.retry`,
//! `stat_prefix`: their configuration (bad values refused, naming the field) and what each does
//! to a request.

mod common;

use common::*;
use serde_json::{json, Value};
use warden_core::config::{Config, KeySource, RetryPolicy};
use warden_core::flow::{Action, Event, Filter, Flow, Now, Reply, RequestInput, Step};
use warden_core::forward::Forwarding;
use warden_core::keystore::{retry_delay, RETRY_MS};
use warden_core::route::RouteMetadata;
use warden_core::subjects::MatchKind;
use warden_core::{Algorithm, Reason};

fn provider(extra: Value) -> Value {
    let mut p = json!({
        "issuer": "https://issuer.example",
        "audiences": ["api.example"],
        "local_jwks": {"inline_string": jwks_all()},
        "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
    });
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    p
}

fn config_with(extra_provider: Value, top: Value) -> Value {
    let mut c = json!({
        "providers": {"main": provider(extra_provider)},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]
    });
    c.as_object_mut()
        .unwrap()
        .extend(top.as_object().unwrap().clone());
    c
}

fn error_of(config: Value) -> String {
    Config::parse(&config.to_string()).unwrap_err().to_string()
}

fn filter(config: Value) -> Filter {
    Filter::configure(config.to_string().as_bytes()).unwrap().0
}

fn at(secs: i64) -> Now {
    Now::from_unix_ms(u64::try_from(secs).unwrap() * 1000)
}

fn run(filter: &mut Filter, headers: &[(&str, &str)]) -> Step {
    Flow::new().handle(
        filter,
        at(NOW),
        Event::RequestHeaders(common::headers(headers)),
    )
}

fn get(token: &str) -> Vec<(String, String)> {
    common::headers(&[
        (":method", "GET"),
        (":path", "/api"),
        ("authorization", &format!("Bearer {token}")),
    ])
}

fn step(filter: &mut Filter, token: &str) -> Step {
    Flow::new().handle(filter, at(NOW), Event::RequestHeaders(get(token)))
}

#[track_caller]
fn forwarded(step: &Step) -> &Forwarding {
    match &step.action {
        Action::Forward(edits) => edits,
        other => panic!("expected a forward, got {other:?}"),
    }
}

#[track_caller]
fn refused(step: &Step) -> (u32, String) {
    match &step.action {
        Action::Respond(r) => (r.status, r.body.clone()),
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[track_caller]
fn reason_of(step: &Step) -> Reason {
    step.report.counts.denied.expect("a refusal")
}

fn token_for(claims: Value) -> String {
    token(Algorithm::ES256, &claims)
}

fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    c.as_object_mut()
        .unwrap()
        .extend(changes.as_object().unwrap().clone());
    c
}

// --- configuration --------------------------------------------------------------------------

#[test]
fn defaults_leave_every_field_off() {
    let c = Config::parse(&config_with(json!({}), json!({})).to_string()).unwrap();
    let p = &c.providers[0];
    assert!(p.subjects.is_none() && p.max_lifetime_seconds.is_none());
    assert!(p.forward_payload_header.is_none() && !p.pad_forward_payload_header);
    assert!(!p.clear_route_cache);
    assert!(!c.bypass_cors_preflight && !c.strip_failure_response);
    assert_eq!(c.token_cache_size, 1024);
    assert_eq!(c.stat_prefix, None);
}

#[test]
fn every_field_compiles() {
    let c = Config::parse(
        &json!({
            "providers": {
                "main": provider(json!({
                    "subjects": {"prefix": "spiffe://example.org/", "ignore_case": true},
                    "max_lifetime_seconds": 3600,
                    "forward_payload_header": "X-JWT-Payload",
                    "pad_forward_payload_header": true,
                    "clear_route_cache": true
                })),
                "idp": {"remote_jwks": {"cluster": "idp", "path": "/jwks", "fetch_at_start": true,
                        "retry": {"num_retries": 3, "base_interval_ms": 10, "max_interval_ms": 20000}}}
            },
            "bypass_cors_preflight": true,
            "strip_failure_response": true,
            "token_cache_size": 0,
            "stat_prefix": "edge_1"
        })
        .to_string(),
    )
    .unwrap();
    let main = &c.providers[c.provider_index("main").unwrap()];
    let subjects = main.subjects.as_ref().unwrap();
    assert_eq!(
        (
            subjects.kind,
            subjects.pattern.as_str(),
            subjects.ignore_case
        ),
        (MatchKind::Prefix, "spiffe://example.org/", true)
    );
    assert_eq!(main.max_lifetime_seconds, Some(3600));
    assert_eq!(
        main.forward_payload_header.as_deref(),
        Some("x-jwt-payload")
    );
    assert!(main.pad_forward_payload_header && main.clear_route_cache);
    // The payload header is the filter's own: stripped from every request like a claim header.
    assert!(c.claim_header_names.contains(&"x-jwt-payload".to_string()));
    let KeySource::Remote(remote) = &c.providers[c.provider_index("idp").unwrap()].keys else {
        panic!("remote");
    };
    assert!(remote.fetch_at_start);
    assert_eq!(
        remote.retry,
        Some(RetryPolicy {
            num_retries: 3,
            base_interval_ms: 10,
            max_interval_ms: 20000
        })
    );
    assert!(c.bypass_cors_preflight && c.strip_failure_response);
    assert_eq!(c.token_cache_size, 0);
    assert_eq!(c.stat_prefix.as_deref(), Some("edge_1"));
}

#[test]
fn retry_defaults_are_jwt_authns() {
    let c = Config::parse(
        &json!({"providers": {"idp": {"remote_jwks": {"cluster": "idp", "path": "/jwks",
                "retry": {}}}}})
        .to_string(),
    )
    .unwrap();
    let KeySource::Remote(remote) = &c.providers[0].keys else {
        panic!("remote");
    };
    assert_eq!(
        remote.retry,
        Some(RetryPolicy {
            num_retries: 1,
            base_interval_ms: 1000,
            max_interval_ms: 10_000
        })
    );
    assert!(!remote.fetch_at_start);
}

#[test]
fn bad_values_are_refused_naming_the_field() {
    let provider_cases = [
        (
            json!({"subjects": {}}),
            "providers.main.subjects: set exactly one",
        ),
        (
            json!({"subjects": {"exact": "a", "prefix": "b"}}),
            "providers.main.subjects: set exactly one",
        ),
        (
            json!({"subjects": {"prefix": ""}}),
            "providers.main.subjects.prefix: must not be empty",
        ),
        (
            json!({"subjects": {"regex": ".*"}}),
            "providers.main.subjects.regex: unknown field `regex`",
        ),
        (
            json!({"subjects": "alice"}),
            "providers.main.subjects: invalid type",
        ),
        (
            json!({"max_lifetime_seconds": 0}),
            "providers.main.max_lifetime_seconds: must be between 1",
        ),
        (
            json!({"max_lifetime_seconds": -5}),
            "providers.main.max_lifetime_seconds: invalid value",
        ),
        (
            json!({"forward_payload_header": "bad header"}),
            "providers.main.forward_payload_header: \"bad header\" is not a valid header name",
        ),
        (
            json!({"forward_payload_header": "Authorization"}),
            "providers.main.forward_payload_header: \"authorization\" is a token source",
        ),
        (
            json!({"forward_payload_header": "x-jwt-sub"}),
            "providers.main.forward_payload_header: \"x-jwt-sub\" is also a claim_to_headers",
        ),
        (
            json!({"forward_payload_header": "cookie"}),
            "providers.main.forward_payload_header: \"cookie\" may not be set",
        ),
        (
            json!({"pad_forward_payload_header": "yes"}),
            "providers.main.pad_forward_payload_header: invalid type",
        ),
        (
            json!({"clear_route_cache": 1}),
            "providers.main.clear_route_cache: invalid type",
        ),
    ];
    for (extra, want) in provider_cases {
        let got = error_of(config_with(extra.clone(), json!({})));
        assert!(got.starts_with(want), "{extra}: {got}");
    }
    let top_cases = [
        (
            json!({"token_cache_size": 65537}),
            "token_cache_size: must be between 0 (no cache) and 65536",
        ),
        (
            json!({"token_cache_size": -1}),
            "token_cache_size: invalid value",
        ),
        (json!({"stat_prefix": ""}), "stat_prefix: must be 1 to 64"),
        (
            json!({"stat_prefix": "a.b"}),
            "stat_prefix: must be 1 to 64",
        ),
        (
            json!({"stat_prefix": "x".repeat(65)}),
            "stat_prefix: must be 1 to 64",
        ),
        (
            json!({"bypass_cors_preflight": "true"}),
            "bypass_cors_preflight: invalid type",
        ),
        (
            json!({"strip_failure_response": "no"}),
            "strip_failure_response: invalid type",
        ),
    ];
    for (top, want) in top_cases {
        let got = error_of(config_with(json!({}), top.clone()));
        assert!(got.starts_with(want), "{top}: {got}");
    }
    let remote = |extra: Value| {
        let mut r = json!({"cluster": "idp", "path": "/jwks"});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"providers": {"idp": {"remote_jwks": r}}})
    };
    let remote_cases = [
        (
            json!({"fetch_at_start": "no"}),
            "providers.idp.remote_jwks.fetch_at_start: invalid type",
        ),
        (
            json!({"retry": {"num_retries": 1001}}),
            "providers.idp.remote_jwks.retry.num_retries: must be at most 1000",
        ),
        (
            json!({"retry": {"base_interval_ms": 0}}),
            "providers.idp.remote_jwks.retry.base_interval_ms: must be between 1",
        ),
        (
            json!({"retry": {"base_interval_ms": 500, "max_interval_ms": 100}}),
            "providers.idp.remote_jwks.retry.max_interval_ms: must be between base_interval_ms",
        ),
        (
            json!({"retry": {"max_interval_ms": 3_600_001}}),
            "providers.idp.remote_jwks.retry.max_interval_ms: must be between",
        ),
        (
            json!({"retry": {"retry_on": "5xx"}}),
            "providers.idp.remote_jwks.retry.retry_on: unknown field `retry_on`",
        ),
    ];
    for (extra, want) in remote_cases {
        let got = error_of(remote(extra.clone()));
        assert!(got.starts_with(want), "{extra}: {got}");
    }
}

// --- subjects and max_lifetime_seconds ------------------------------------------------------

#[test]
fn subjects_allow_only_matching_sub() {
    let mut f = filter(config_with(
        json!({"subjects": {"suffix": "@corp.example"}}),
        json!({}),
    ));
    let good = token_for(claims_with(json!({"sub": "alice@corp.example"})));
    assert!(matches!(step(&mut f, &good).action, Action::Forward(_)));
    let other = token_for(claims_with(json!({"sub": "alice@corp.example.evil"})));
    let s = step(&mut f, &other);
    assert_eq!(reason_of(&s), Reason::SubjectMismatch);
    assert_eq!(refused(&s).0, 401);
    let mut no_sub = claims();
    no_sub.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        reason_of(&step(&mut f, &token_for(no_sub))),
        Reason::SubjectMismatch
    );
}

#[test]
fn max_lifetime_limits_the_remaining_lifetime() {
    let mut f = filter(config_with(
        json!({"max_lifetime_seconds": 3600}),
        json!({}),
    ));
    // jwt_authn measures exp − now, not exp − iat: an old `iat` does not matter.
    let ok = token_for(claims_with(json!({"iat": NOW - 86_400, "exp": NOW + 3599})));
    assert!(matches!(step(&mut f, &ok).action, Action::Forward(_)));
    let at_limit = token_for(claims_with(json!({"exp": NOW + 3600})));
    assert_eq!(reason_of(&step(&mut f, &at_limit)), Reason::LifetimeTooLong);
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut lenient = filter(config_with(
        json!({"max_lifetime_seconds": 3600, "require_expiration": false}),
        json!({}),
    ));
    // With a limit set a token needs `exp`, whatever `require_expiration` says.
    assert_eq!(
        reason_of(&step(&mut lenient, &token_for(no_exp))),
        Reason::ClaimMissing
    );
}

#[test]
fn a_cached_token_is_held_to_the_lifetime_limit_again() {
    let mut f = filter(config_with(json!({"max_lifetime_seconds": 600}), json!({})));
    let t = token_for(claims_with(json!({"exp": NOW + 500})));
    assert!(matches!(step(&mut f, &t).action, Action::Forward(_)));
    // Same token, cache hit: still within the limit later on.
    let later = Flow::new().handle(&mut f, at(NOW + 100), Event::RequestHeaders(get(&t)));
    assert_eq!(later.report.counts.cache_hits, 1);
    assert!(matches!(later.action, Action::Forward(_)));
}

// --- forward_payload_header -----------------------------------------------------------------

#[test]
fn payload_header_carries_the_tokens_own_payload_segment() {
    let mut f = filter(config_with(
        json!({"forward_payload_header": "x-jwt-payload"}),
        json!({}),
    ));
    // A payload whose base64url needs padding (its length is not a multiple of 3).
    let t = ["al", "ali", "alic"]
        .into_iter()
        .map(|sub| token_for(claims_with(json!({"sub": sub}))))
        .find(|t| t.split('.').nth(1).unwrap().len() % 4 != 0)
        .unwrap();
    let segment = t.split('.').nth(1).unwrap().to_string();
    let mut spoofed = get(&t);
    spoofed.push(("x-jwt-payload".into(), "e30".into()));
    let s = Flow::new().handle(&mut f, at(NOW), Event::RequestHeaders(spoofed));
    let edits = forwarded(&s);
    assert!(edits.remove.contains(&"x-jwt-payload".to_string()));
    assert!(edits
        .set
        .contains(&("x-jwt-payload".to_string(), segment.clone())));

    let mut padded = filter(config_with(
        json!({"forward_payload_header": "x-jwt-payload", "pad_forward_payload_header": true}),
        json!({}),
    ));
    let s = step(&mut padded, &t);
    let value = forwarded(&s)
        .set
        .iter()
        .find(|(n, _)| n == "x-jwt-payload")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(value.len() % 4, 0);
    assert_eq!(value.trim_end_matches('='), segment);
    // Decodes, with the standard padded decoder, to the claims the token carries.
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(&value)
        .unwrap();
    let decoded: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(decoded["sub"].as_str().unwrap().starts_with("al"));
    assert_eq!(decoded["iss"], "https://issuer.example");
}

#[test]
fn payload_header_is_stripped_from_unprotected_requests_too() {
    let mut c = config_with(
        json!({"forward_payload_header": "x-jwt-payload"}),
        json!({}),
    );
    c["rules"] = json!([{"match": {"prefix": "/open"}}]);
    let mut f = filter(c);
    let s = run(
        &mut f,
        &[
            (":method", "GET"),
            (":path", "/open"),
            ("x-jwt-payload", "e30"),
        ],
    );
    assert!(forwarded(&s).remove.contains(&"x-jwt-payload".to_string()));
}

// --- clear_route_cache ----------------------------------------------------------------------

#[test]
fn clear_route_cache_is_asked_when_the_provider_set_headers() {
    let t = token_for(claims());
    let mut off = filter(config_with(json!({}), json!({})));
    assert!(!forwarded(&step(&mut off, &t)).clear_route_cache);
    let mut on = filter(config_with(json!({"clear_route_cache": true}), json!({})));
    let s = step(&mut on, &t);
    assert!(forwarded(&s).clear_route_cache);
    // A request the filter leaves as it is keeps its route; one it took a spoofed claim header
    // out of has its route picked again (the client's header may have chosen it).
    let mut open = config_with(json!({"clear_route_cache": true}), json!({}));
    open["rules"] = json!([{"match": {"prefix": "/open"}}]);
    let mut open = filter(open);
    let s = run(&mut open, &[(":method", "GET"), (":path", "/open")]);
    assert!(!forwarded(&s).clear_route_cache);
    let s = run(
        &mut open,
        &[
            (":method", "GET"),
            (":path", "/open"),
            ("x-jwt-sub", "mallory"),
        ],
    );
    assert!(forwarded(&s).clear_route_cache);
}

// --- bypass_cors_preflight ------------------------------------------------------------------

fn preflight(origin: &str, method: &str) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (":method", method.to_string()),
        (":path", "/api".to_string()),
    ];
    if !origin.is_empty() {
        h.push(("origin", origin.to_string()));
    }
    h.push(("access-control-request-method", "POST".to_string()));
    h.push(("x-jwt-sub", "mallory".to_string()));
    h
}

fn run_owned(filter: &mut Filter, h: &[(&'static str, String)]) -> Step {
    let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(filter, &pairs)
}

#[test]
fn cors_preflight_bypasses_the_rules_only_when_asked() {
    let mut off = filter(config_with(json!({}), json!({})));
    let s = run_owned(&mut off, &preflight("https://app.example", "OPTIONS"));
    assert_eq!(reason_of(&s), Reason::TokenMissing);

    let mut on = filter(config_with(
        json!({}),
        json!({"bypass_cors_preflight": true}),
    ));
    let s = run_owned(&mut on, &preflight("https://app.example", "OPTIONS"));
    // Forwarded without a token, spoofed claim headers still removed, and counted.
    assert!(forwarded(&s).remove.contains(&"x-jwt-sub".to_string()));
    assert_eq!(s.report.counts.cors_preflight_bypassed, 1);
    // jwt_authn's definition: OPTIONS with Origin and Access-Control-Request-Method.
    let s = run_owned(&mut on, &preflight("", "OPTIONS"));
    assert_eq!(reason_of(&s), Reason::TokenMissing);
    let s = run_owned(&mut on, &preflight("https://app.example", "GET"));
    assert_eq!(reason_of(&s), Reason::TokenMissing);
    let s = run(
        &mut on,
        &[
            (":method", "OPTIONS"),
            (":path", "/api"),
            ("origin", "https://app.example"),
        ],
    );
    assert_eq!(reason_of(&s), Reason::TokenMissing);
}

#[test]
fn cors_preflight_is_let_through_before_the_route_is_read() {
    // The adapter's event, with route metadata that cannot be read: a preflight is forwarded
    // before it is looked at (as jwt_authn bypasses before its per-route config).
    let mut on = filter(config_with(
        json!({}),
        json!({"bypass_cors_preflight": true}),
    ));
    let h = preflight("https://app.example", "OPTIONS");
    let headers = h.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let s = Flow::new().handle(
        &mut on,
        at(NOW),
        Event::Request(RequestInput {
            headers,
            route_metadata: Some(RouteMetadata::Protobuf(vec![0xff, 0xff])),
            filter_state: None,
        }),
    );
    assert!(forwarded(&s).remove.contains(&"x-jwt-sub".to_string()));
    assert_eq!(s.report.counts.cors_preflight_bypassed, 1);
}

// --- strip_failure_response -----------------------------------------------------------------

#[test]
fn strip_failure_response_keeps_only_the_status() {
    let mut plain = filter(config_with(json!({}), json!({})));
    let s = run(&mut plain, &[(":method", "GET"), (":path", "/api")]);
    assert!(!refused(&s).1.is_empty());

    let mut stripped = filter(config_with(
        json!({}),
        json!({"strip_failure_response": true}),
    ));
    let s = run(&mut stripped, &[(":method", "GET"), (":path", "/api")]);
    match &s.action {
        Action::Respond(r) => {
            assert_eq!(r.status, 401);
            assert!(r.body.is_empty());
            assert!(r.headers.is_empty(), "{:?}", r.headers);
        }
        other => panic!("expected an answer, got {other:?}"),
    }
    // The reason is still counted and logged.
    assert_eq!(reason_of(&s), Reason::TokenMissing);
    let bad = token_for(claims_with(json!({"aud": "other"})));
    let s = step(&mut stripped, &bad);
    assert_eq!(refused(&s), (401, String::new()));
    assert_eq!(reason_of(&s), Reason::AudienceMismatch);
}

// --- token_cache_size -----------------------------------------------------------------------

#[test]
fn token_cache_size_zero_verifies_every_time() {
    let t = token_for(claims());
    let mut cached = filter(config_with(json!({}), json!({})));
    step(&mut cached, &t);
    assert_eq!(step(&mut cached, &t).report.counts.cache_hits, 1);
    let mut uncached = filter(config_with(json!({}), json!({"token_cache_size": 0})));
    step(&mut uncached, &t);
    let again = step(&mut uncached, &t);
    assert_eq!(again.report.counts.cache_hits, 0);
    assert!(matches!(again.action, Action::Forward(_)));
    assert!(uncached.cache.is_empty());
    let mut two = filter(config_with(json!({}), json!({"token_cache_size": 2})));
    for sub in ["a", "b", "c"] {
        step(&mut two, &token_for(claims_with(json!({"sub": sub}))));
    }
    assert_eq!(two.cache.len(), 2);
}

// --- remote_jwks.fetch_at_start and .retry ---------------------------------------------------

fn remote_filter(remote_extra: Value) -> Filter {
    let mut remote = json!({"cluster": "idp", "path": "/jwks", "cache_duration_seconds": 600});
    remote
        .as_object_mut()
        .unwrap()
        .extend(remote_extra.as_object().unwrap().clone());
    filter(json!({
        "providers": {
            "idp": {"remote_jwks": remote},
            "other": {"remote_jwks": {"cluster": "other", "path": "/jwks"}}
        }
    }))
}

#[test]
fn fetch_at_start_sends_the_fetch_when_configured() {
    let mut lazy = remote_filter(json!({}));
    assert!(lazy.fetches_at_start(at(NOW)).is_empty());
    let mut eager = remote_filter(json!({"fetch_at_start": true}));
    let calls = eager.fetches_at_start(at(NOW));
    assert_eq!(calls.len(), 1, "only the provider that asks");
    let (idx, call) = &calls[0];
    assert_eq!(eager.config.providers[*idx].name, "idp");
    assert_eq!(
        (call.cluster.as_str(), call.path.as_str()),
        ("idp", "/jwks")
    );
    // Marked in flight: the first tick does not send it a second time.
    let due: Vec<usize> = eager
        .due_fetches(at(NOW))
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert!(!due.contains(idx));
}

fn fail(filter: &mut Filter, idx: usize, now_ms: u64) {
    filter.keys_fetched(idx, Reply::Failed, Now::from_unix_ms(now_ms));
}

/// The first time after `from_ms` (stepping 1 ms) at which `idx` is due again.
fn next_due(filter: &mut Filter, idx: usize, from_ms: u64, until_ms: u64) -> Option<u64> {
    let mut t = from_ms;
    while t <= until_ms {
        let due = filter.keys.take_due(t);
        if due.contains(&idx) {
            return Some(t);
        }
        t += if t - from_ms < 100_000 { 1 } else { 1000 };
    }
    None
}

#[test]
fn without_retry_a_failed_fetch_is_tried_again_after_five_seconds() {
    let mut f = remote_filter(json!({}));
    let idx = f.config.provider_index("idp").unwrap();
    let start = 1_000_000;
    assert!(f.keys.take_due(start).contains(&idx));
    for round in 0..3u64 {
        let failed_at = start + round * RETRY_MS;
        fail(&mut f, idx, failed_at);
        assert_eq!(
            next_due(&mut f, idx, failed_at, failed_at + 60_000),
            Some(failed_at + RETRY_MS)
        );
    }
}

#[test]
fn retry_backs_off_then_waits_for_the_regular_refresh() {
    let mut f = remote_filter(json!({"retry": {"num_retries": 3, "base_interval_ms": 1000,
                                                "max_interval_ms": 3000}}));
    let idx = f.config.provider_index("idp").unwrap();
    let mut now = 5_000_000;
    assert!(f.keys.take_due(now).contains(&idx));
    // Retry n waits less than min(1000 · 2ⁿ⁻¹, 3000) ms.
    for bound in [1000, 2000, 3000] {
        fail(&mut f, idx, now);
        let due = next_due(&mut f, idx, now, now + 700_000).unwrap();
        assert!(
            due - now < bound,
            "retry after {} ms, bound {bound}",
            due - now
        );
        now = due;
    }
    // The retries are spent: the next try is the regular refresh (cache_duration_seconds).
    fail(&mut f, idx, now);
    assert_eq!(
        next_due(&mut f, idx, now, now + 700_000),
        Some(now + 600_000)
    );
    // ... which starts a new round of retries when it fails too.
    now += 600_000;
    fail(&mut f, idx, now);
    let due = next_due(&mut f, idx, now, now + 700_000).unwrap();
    assert!(due - now < 1000);
}

#[test]
fn a_success_resets_the_retries() {
    let mut f = remote_filter(json!({"retry": {"num_retries": 1, "base_interval_ms": 100}}));
    let idx = f.config.provider_index("idp").unwrap();
    let jwks = json!({"keys": [jwk(Algorithm::ES256)]})
        .to_string()
        .into_bytes();
    let mut now = 9_000_000;
    f.keys.take_due(now);
    fail(&mut f, idx, now);
    now = next_due(&mut f, idx, now, now + 10_000).unwrap();
    let ok = Reply::Answered {
        status: 200,
        size: jwks.len(),
        body: jwks,
    };
    f.keys_fetched(idx, ok, Now::from_unix_ms(now));
    now = next_due(&mut f, idx, now, now + 700_000).unwrap();
    // A fresh failure after the success gets its retry again (not the regular refresh).
    fail(&mut f, idx, now);
    let due = next_due(&mut f, idx, now, now + 700_000).unwrap();
    assert!(due - now < 100);
}

#[test]
fn retry_delay_is_jittered_and_capped() {
    let policy = RetryPolicy {
        num_retries: 10,
        base_interval_ms: 10,
        max_interval_ms: 20_000,
    };
    assert_eq!(retry_delay(None, 1, 600_000, 0), Some(RETRY_MS));
    assert_eq!(retry_delay(None, 1, 1000, 0), Some(1000));
    assert_eq!(retry_delay(Some(&policy), 11, 600_000, 0), None);
    let delays: Vec<u64> = (0..200)
        .map(|seed| retry_delay(Some(&policy), 10, 600_000, seed).unwrap())
        .collect();
    assert!(delays.iter().all(|d| *d < 5120), "10 · 2⁹ = 5120");
    let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
    assert!(distinct.len() > 50, "jittered: {} distinct", distinct.len());
    // Large failure counts neither overflow nor pass the cap.
    let big = RetryPolicy {
        num_retries: 1000,
        ..policy
    };
    assert!(retry_delay(Some(&big), 900, 600_000, 7).unwrap() < 20_000);
}
