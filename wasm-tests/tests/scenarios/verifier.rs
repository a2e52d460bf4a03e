//! The revocation check: the call the filter makes, and every kind of answer under both
//! failure modes.

use crate::common::*;
use serde_json::json;
use std::time::Duration;
use warden_core::protocol::CheckRequest;
use warden_wasm_tests::{Host, HttpCall, RequestId};

fn host_with_verifier(failure_mode: &str) -> Host {
    start(&config_with(
        provider(&keys().jwks(), json!({})),
        Some(verifier(failure_mode)),
    ))
}

/// A good token's request, paused on its verifier call.
fn paused_request(host: &mut Host) -> (RequestId, HttpCall) {
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(host, "/api", Some(&token), &[("x-jwt-sub", "mallory")]);
    assert!(
        host.outcome(request).is_paused(),
        "{:?}",
        host.outcome(request)
    );
    let call = host
        .pending_http_call_to("warden_verifier")
        .expect("verifier call");
    (request, call)
}

#[test]
fn the_call_carries_the_check_request() {
    let mut host = host_with_verifier("deny");
    let (_, call) = paused_request(&mut host);
    assert_eq!(call.method(), Some("POST"));
    assert_eq!(call.path(), Some("/v1/check"));
    assert_eq!(call.authority(), Some("warden-verifier"));
    assert_eq!(call.headers.get("content-type"), Some("application/json"));
    assert_eq!(call.timeout, Duration::from_millis(200));
    assert!(call.trailers.is_empty());
    let check: CheckRequest = serde_json::from_slice(&call.body).expect("a CheckRequest body");
    assert_eq!(
        check,
        CheckRequest {
            sub: "alice".into(),
            jti: Some("jti-1".into()),
            sid: Some("sid-1".into()),
            ver: Some(3),
            iat: Some((NOW - 10) as i64),
            exp: (NOW + 600) as i64,
            iss: Some(ISSUER.into()),
        }
    );
}

#[test]
fn allow_resumes_with_claim_headers() {
    let mut host = host_with_verifier("deny");
    let (request, call) = paused_request(&mut host);
    host.respond_http_call(
        call.token,
        200,
        &[("content-type", "application/json")],
        br#"{"allow":true}"#,
    )
    .unwrap();
    let headers = forwarded(&host, request);
    assert_eq!(headers.get_all("x-jwt-sub"), vec!["alice"]);
    assert!(!headers.contains("authorization"));
    assert_eq!(host.metric("warden.allowed"), Some(1));
}

#[test]
fn deny_answers_401_with_the_verifier_reason() {
    let modes = ["deny", "allow"];
    let reasons = [
        "revoked",
        "stale_version",
        "session_missing",
        "session_mismatch",
        "revoked_all",
        "user_revoked",
        "session_revoked",
    ];
    for (mode, reason) in modes
        .iter()
        .flat_map(|m| reasons.iter().map(move |r| (*m, *r)))
    {
        let mut host = host_with_verifier(mode);
        let (request, call) = paused_request(&mut host);
        let body = json!({"allow": false, "reason": reason}).to_string();
        host.respond_http_call(call.token, 200, &[], body.as_bytes())
            .unwrap();
        assert_denied(&host, request, reason);
        assert_eq!(host.metric(&format!("warden.denied.{reason}")), Some(1));
        assert_eq!(
            host.metric("warden.verifier.failure"),
            Some(0),
            "a deny is an answer, not a failure"
        );
    }
}

#[test]
fn deny_with_an_unknown_reason_is_still_a_deny() {
    let mut host = host_with_verifier("allow");
    let (request, call) = paused_request(&mut host);
    host.respond_http_call(
        call.token,
        200,
        &[],
        br#"{"allow":false,"reason":"brand_new_reason"}"#,
    )
    .unwrap();
    assert_eq!(answered(&host, request).status, 401);
}

/// The verifier failure kinds: each gets the same treatment.
fn fail(host: &mut Host, call: &HttpCall, how: &str) {
    match how {
        "timeout" => host.advance(Duration::from_millis(200)).unwrap(),
        "connection_failure" => host.fail_http_call(call.token).unwrap(),
        "500" => host
            .respond_http_call(call.token, 500, &[], b"oops")
            .unwrap(),
        "503" => host
            .respond_http_call(call.token, 503, &[], br#"{"allow":true}"#)
            .unwrap(),
        "not_json" => host
            .respond_http_call(call.token, 200, &[], b"<html>")
            .unwrap(),
        "no_allow_field" => host
            .respond_http_call(call.token, 200, &[], br#"{"ok":true}"#)
            .unwrap(),
        "huge_body" => host
            .respond_http_call(call.token, 200, &[], &vec![b' '; 100_000])
            .unwrap(),
        other => panic!("unknown failure {other}"),
    }
}

const FAILURES: [&str; 7] = [
    "timeout",
    "connection_failure",
    "500",
    "503",
    "not_json",
    "no_allow_field",
    "huge_body",
];

#[test]
fn failures_answer_503_under_failure_mode_deny() {
    for how in FAILURES {
        let mut host = host_with_verifier("deny");
        let (request, call) = paused_request(&mut host);
        fail(&mut host, &call, how);
        assert_unavailable(&host, request);
        assert_eq!(host.metric("warden.verifier.failure"), Some(1), "{how}");
        assert_eq!(
            host.metric("warden.verifier.failure_mode_allowed"),
            Some(0),
            "{how}"
        );
        assert_eq!(host.metric("warden.allowed"), Some(0), "{how}");
    }
}

#[test]
fn failures_let_the_request_through_under_failure_mode_allow() {
    for how in FAILURES {
        let mut host = host_with_verifier("allow");
        let (request, call) = paused_request(&mut host);
        fail(&mut host, &call, how);
        let headers = forwarded(&host, request);
        assert_eq!(
            headers.get_all("x-jwt-sub"),
            vec!["alice"],
            "{how}: claim headers are still set"
        );
        assert_eq!(host.metric("warden.verifier.failure"), Some(1), "{how}");
        assert_eq!(
            host.metric("warden.verifier.failure_mode_allowed"),
            Some(1),
            "{how}"
        );
    }
}

#[test]
fn the_timeout_fires_only_after_timeout_ms() {
    let mut host = host_with_verifier("deny");
    let (request, _) = paused_request(&mut host);
    host.advance(Duration::from_millis(199)).unwrap();
    assert!(host.outcome(request).is_paused());
    host.advance(Duration::from_millis(1)).unwrap();
    assert_unavailable(&host, request);
}

#[test]
fn an_unknown_verifier_cluster_is_a_failure() {
    let mut host = host_with_verifier("deny");
    host.set_cluster_unknown("warden_verifier", true);
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    assert_unavailable(&host, request);
    let mut host = host_with_verifier("allow");
    host.set_cluster_unknown("warden_verifier", true);
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
}

#[test]
fn tokens_without_sub_or_jti_are_refused_when_a_verifier_is_configured() {
    let mut host = host_with_verifier("allow");
    for missing in ["sub", "jti"] {
        let token = keys().sign(Alg::ES256, &claims_with(json!({ missing: null })));
        let request = get(&mut host, "/api", Some(&token), &[]);
        assert_denied(&host, request, "claim_missing");
    }
    assert!(host.pending_http_calls().is_empty());
    // Without a verifier the same tokens pass.
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims_with(json!({"jti": null})));
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
}

#[test]
fn a_locally_refused_token_never_reaches_the_verifier() {
    let mut host = host_with_verifier("allow");
    let token = keys().sign(Alg::ES256, &claims_with(json!({"exp": NOW - 3600})));
    let request = get(&mut host, "/api", Some(&token), &[]);
    assert_denied(&host, request, "token_expired");
    assert!(host.pending_http_calls().is_empty());
}

#[test]
fn every_request_is_checked_even_when_the_token_is_cached() {
    let mut host = host_with_verifier("deny");
    let (first, call) = paused_request(&mut host);
    host.respond_http_call(call.token, 200, &[], br#"{"allow":true}"#)
        .unwrap();
    forwarded(&host, first);
    let (second, call) = paused_request(&mut host);
    assert_eq!(host.metric("warden.cache.hit"), Some(1));
    host.respond_http_call(
        call.token,
        200,
        &[],
        br#"{"allow":false,"reason":"revoked"}"#,
    )
    .unwrap();
    assert_denied(&host, second, "revoked");
}
