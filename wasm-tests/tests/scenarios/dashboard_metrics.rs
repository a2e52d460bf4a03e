//! The metrics the dashboard adds to the counters: per provider, and stream mode's resyncs,
//! poll failures and gauges, set by the real plugin through the host's metric calls.

use crate::common::*;
use serde_json::json;
use std::time::Duration;
use warden_wasm_tests::Host;

const SNAPSHOT: &[u8] = br#"{"kind":"snapshot","seq":5,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;

#[test]
fn allowed_requests_count_for_their_provider_and_a_missing_token_for_none() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    for _ in 0..2 {
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
    }
    let request = get(&mut host, "/api", None, &[]);
    assert_denied(&host, request, "token_missing");
    assert_eq!(host.metric("warden.provider.main.allowed"), Some(2));
    assert_eq!(host.metric("warden.provider.main.denied"), Some(0));
    assert_eq!(host.metric("warden.denied.token_missing"), Some(1));
    assert_eq!(
        host.metric("warden.stream.staleness_ms"),
        None,
        "callout mode has no stream metrics"
    );
}

fn stream_host() -> Host {
    let mut v = verifier("deny");
    v["mode"] = json!("stream");
    v["stream"] = json!({"path": "/v1/revocations", "max_staleness_ms": 1000, "max_entries": 1000});
    start(&config_with(provider(&keys().jwks(), json!({})), Some(v)))
}

fn answer_poll(host: &mut Host, status: u16, body: &[u8]) {
    let poll = host
        .pending_http_calls()
        .into_iter()
        .find(|c| c.path().is_some_and(|p| p.starts_with("/v1/revocations")))
        .expect("a poll in flight");
    host.respond_http_call(poll.token, status, &[], body)
        .unwrap();
}

#[test]
fn stream_gauges_follow_the_view_and_resyncs_and_failures_are_counted() {
    let mut host = stream_host();
    host.advance(Duration::from_millis(100)).unwrap();
    answer_poll(&mut host, 200, SNAPSHOT);
    host.advance(Duration::from_millis(100)).unwrap();
    assert_eq!(host.metric("warden.stream.snapshots"), Some(1));
    assert_eq!(host.metric("warden.stream.max_staleness_ms"), Some(1000));
    assert_eq!(host.metric("warden.stream.trusted"), Some(1));
    assert!(host.metric("warden.stream.staleness_ms").unwrap() < 1000);

    // The next poll fails: nothing confirms the view, which goes stale past its bound.
    answer_poll(&mut host, 503, b"");
    assert_eq!(host.metric("warden.stream.poll_failures"), Some(1));
    host.advance(Duration::from_millis(1500)).unwrap();
    assert!(host.metric("warden.stream.staleness_ms").unwrap() >= 1000);
    assert_eq!(host.metric("warden.stream.trusted"), Some(0));
}
