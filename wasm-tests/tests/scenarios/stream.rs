//! Stream mode: the root context long-polls the revocation feed, the request contexts decide from
//! the VM's view with no call, and a stale or unsynchronised view falls back to the callout.

use crate::common::*;
use serde_json::json;
use std::time::Duration;
use warden_wasm_tests::{Host, HttpCall};

fn stream_host(failure_mode: &str) -> Host {
    let mut v = verifier(failure_mode);
    v["mode"] = json!("stream");
    v["stream"] = json!({"path": "/v1/revocations", "max_staleness_ms": 1000, "max_entries": 1000});
    start(&config_with(provider(&keys().jwks(), json!({})), Some(v)))
}

/// A good token without `sid` (the scenarios' default sid is not one the verifier makes).
fn token() -> String {
    keys().sign(Alg::ES256, &claims_with(json!({"sid": null})))
}

#[track_caller]
fn poll(host: &Host) -> HttpCall {
    let polls: Vec<HttpCall> = host
        .pending_http_calls()
        .into_iter()
        .filter(|c| c.path().is_some_and(|p| p.starts_with("/v1/revocations")))
        .collect();
    assert_eq!(polls.len(), 1, "exactly one poll in flight: {polls:?}");
    let call = polls.into_iter().next().unwrap();
    assert_eq!(
        call.context_id,
        host.root_context_id(),
        "polled by the root context"
    );
    call
}

fn checks(host: &Host) -> usize {
    host.pending_http_calls()
        .iter()
        .filter(|c| c.path() == Some("/v1/check"))
        .count()
}

const SNAPSHOT: &[u8] = br#"{"kind":"snapshot","seq":5,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;

#[test]
fn the_root_polls_and_requests_decide_locally() {
    let mut host = stream_host("deny");
    assert_eq!(host.tick_period(), Some(Duration::from_millis(100)));
    host.advance(Duration::from_millis(100)).unwrap();
    let first = poll(&host);
    assert_eq!(first.method(), Some("GET"));
    assert_eq!(
        first.path(),
        Some("/v1/revocations?ids=1&wait_ms=0&max_live=1000")
    );
    assert_eq!(first.authority(), Some("warden-verifier"));

    // Before the first answer: callout, as in callout mode.
    let before = get(&mut host, "/api", Some(&token()), &[]);
    assert!(host.outcome(before).is_paused());
    assert_eq!(checks(&host), 1);

    host.respond_http_call(first.token, 200, &[], SNAPSHOT)
        .unwrap();
    let next = poll(&host);
    assert_eq!(
        next.path(),
        Some("/v1/revocations?after=5&ids=1&wait_ms=250&max_live=1000")
    );
    assert_eq!(next.timeout, Duration::from_millis(450));

    let request = get(
        &mut host,
        "/api",
        Some(&token()),
        &[("x-jwt-sub", "mallory")],
    );
    assert_eq!(forwarded(&host, request).get("x-jwt-sub"), Some("alice"));
    assert_eq!(checks(&host), 1, "no new check call");

    let change = br#"{"kind":"changes","after":5,"seq":6,"changes":[{"seq":6,"change":{"type":"jti","sub":"alice","jti":"jti-1","until":null}}]}"#;
    host.respond_http_call(next.token, 200, &[], change)
        .unwrap();
    assert_eq!(
        poll(&host).path(),
        Some("/v1/revocations?after=6&ids=1&wait_ms=250&max_live=1000")
    );
    let request = get(&mut host, "/api", Some(&token()), &[]);
    assert_denied(&host, request, "revoked");
    // The verifier's own session rule: a sid it never makes is a missing session.
    let odd = keys().sign(Alg::ES256, &claims_with(json!({"jti": "other"})));
    let request = get(&mut host, "/api", Some(&odd), &[]);
    assert_denied(&host, request, "session_missing");
    assert_eq!(checks(&host), 1);
}

#[test]
fn a_stale_view_falls_back_to_the_callout() {
    let mut host = stream_host("deny");
    host.advance(Duration::from_millis(100)).unwrap();
    host.respond_http_call(poll(&host).token, 200, &[], SNAPSHOT)
        .unwrap();
    // Malformed answers do not confirm the view; past max_staleness_ms it is not trusted.
    for _ in 0..4 {
        host.advance(Duration::from_millis(300)).unwrap();
        let call = poll(&host);
        host.respond_http_call(call.token, 200, &[], b"{\"kind\":\"changes\",")
            .unwrap();
    }
    assert!(host.has_log(warden_wasm_tests::LogLevel::Warn, "malformed feed answer"));
    let request = get(&mut host, "/api", Some(&token()), &[]);
    assert!(host.outcome(request).is_paused(), "stale: calls out");
    let call = host.pending_http_call_to("warden_verifier").unwrap();
    let call = if call.path() == Some("/v1/check") {
        call
    } else {
        host.pending_http_calls()
            .into_iter()
            .find(|c| c.path() == Some("/v1/check"))
            .unwrap()
    };
    host.fail_http_call(call.token).unwrap();
    assert_eq!(answered(&host, request).status, 503, "failure_mode deny");

    // A good answer makes it trusted again.
    host.advance(Duration::from_millis(300)).unwrap();
    let call = poll(&host);
    let resync = br#"{"kind":"changes","after":5,"seq":5,"changes":[]}"#;
    host.respond_http_call(call.token, 200, &[], resync)
        .unwrap();
    let request = get(&mut host, "/api", Some(&token()), &[]);
    forwarded(&host, request);
}

/// Staleness counts from when the poll was sent: an empty answer that took 400 ms confirms the
/// view as of its send, so 1000 ms after the send the view is stale and requests call out.
#[test]
fn a_late_answer_confirms_the_view_only_as_of_its_send() {
    let mut host = stream_host("deny");
    host.advance(Duration::from_millis(100)).unwrap();
    host.respond_http_call(poll(&host).token, 200, &[], SNAPSHOT)
        .unwrap();
    let sent = poll(&host);
    host.advance(Duration::from_millis(400)).unwrap();
    let empty = br#"{"kind":"changes","after":5,"seq":5,"changes":[]}"#;
    host.respond_http_call(sent.token, 200, &[], empty).unwrap();
    let request = get(&mut host, "/api", Some(&token()), &[]);
    forwarded(&host, request);
    // The next poll gets no answer; 1000 ms after the send of the one that confirmed the view
    // (600 ms after its answer arrived) the view is stale.
    host.advance(Duration::from_millis(600)).unwrap();
    let request = get(&mut host, "/api", Some(&token()), &[]);
    assert!(
        host.outcome(request).is_paused(),
        "stale 1000 ms after the send: calls out"
    );
}

/// The cursor is (seq, id): the poll names the id, and changes for another entry at that seq
/// (the feed was rolled back and the number reused) are refused and a snapshot asked for.
#[test]
fn changes_for_another_entry_at_the_cursor_send_the_view_to_a_snapshot() {
    let mut host = stream_host("deny");
    host.advance(Duration::from_millis(100)).unwrap();
    let snapshot = br#"{"kind":"snapshot","seq":5,"id":"head5","skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;
    host.respond_http_call(poll(&host).token, 200, &[], snapshot)
        .unwrap();
    let next = poll(&host);
    assert_eq!(
        next.path(),
        Some("/v1/revocations?after=5&after_id=head5&ids=1&wait_ms=250&max_live=1000")
    );
    let reused = br#"{"kind":"changes","after":5,"after_id":"other","seq":6,"changes":[{"seq":6,"id":"x","change":{"type":"not_before","not_before":1}}]}"#;
    host.respond_http_call(next.token, 200, &[], reused)
        .unwrap();
    assert!(host.has_log(warden_wasm_tests::LogLevel::Warn, "rolled back"));
    host.advance(Duration::from_millis(300)).unwrap();
    assert_eq!(
        poll(&host).path(),
        Some("/v1/revocations?ids=1&wait_ms=0&max_live=1000")
    );
    let request = get(&mut host, "/api", Some(&token()), &[]);
    assert!(host.outcome(request).is_paused(), "no cursor: calls out");
}

/// An identity provider's tokens in stream mode: no `jti` (the provider sets `require_jti:
/// false`), no `ver`, the provider's own `sid`; the view judges them by the feed's issuer list,
/// revoked IdP sessions and the user's not-before, without a call.
#[test]
fn identity_provider_tokens_are_judged_locally() {
    let mut v = verifier("deny");
    v["mode"] = json!("stream");
    v["stream"] = json!({"path": "/v1/revocations", "max_staleness_ms": 1000, "max_entries": 1000});
    let mut host = start(&config_with(
        provider(&keys().jwks(), json!({"require_jti": false})),
        Some(v),
    ));
    host.advance(Duration::from_millis(100)).unwrap();
    let snapshot = json!({"kind": "snapshot", "seq": 5, "skew_seconds": 300, "jtis": [],
        "users": [], "sessions": [], "idp_issuers": [ISSUER],
        "idp_sessions": [{"iss": ISSUER, "sid": "idp-s-1", "until": NOW + 600}]});
    host.respond_http_call(poll(&host).token, 200, &[], snapshot.to_string().as_bytes())
        .unwrap();
    let idp_token = |sid: &str, iat: u64| {
        keys().sign(
            Alg::ES256,
            &claims_with(json!({"jti": null, "ver": null, "sid": sid, "iat": iat})),
        )
    };
    let request = get(
        &mut host,
        "/api",
        Some(&idp_token("idp-s-2", NOW - 10)),
        &[],
    );
    assert_eq!(forwarded(&host, request).get("x-jwt-sub"), Some("alice"));
    let request = get(
        &mut host,
        "/api",
        Some(&idp_token("idp-s-1", NOW - 10)),
        &[],
    );
    assert_denied(&host, request, "session_revoked");

    // The user is revoked at NOW - 10: tokens without `ver` issued then are refused, later ones not.
    let change = json!({"kind": "changes", "after": 5, "seq": 6, "idp_issuers": [ISSUER],
        "changes": [{"seq": 6, "change": {"type": "user", "sub": "alice", "version": 1,
                                          "not_before": NOW - 10}}]});
    host.respond_http_call(poll(&host).token, 200, &[], change.to_string().as_bytes())
        .unwrap();
    let request = get(
        &mut host,
        "/api",
        Some(&idp_token("idp-s-2", NOW - 10)),
        &[],
    );
    assert_denied(&host, request, "user_revoked");
    let request = get(&mut host, "/api", Some(&idp_token("idp-s-2", NOW - 9)), &[]);
    forwarded(&host, request);
    assert_eq!(checks(&host), 0, "all decided locally");
    assert_eq!(host.metric("warden.denied.user_revoked"), Some(1));
    assert_eq!(host.metric("warden.denied.session_revoked"), Some(1));
}
