#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! What the dashboard reads from the filter besides its per-request counters: the provider a
//! request was decided on, the stream view's resyncs and failures, and the gauges (stream view
//! staleness, key set age) the proxy sets on each tick.

mod common;

use common::*;
use serde_json::{json, Value};
use warden_core::flow::{
    stat_segment, Action, Event, Filter, Flow, Gauges, Now, Reply, StreamGauges,
};
use warden_core::{Algorithm, Reason};

const IDP: usize = 0;
const MAIN: usize = 1;
const T0: u64 = 1_700_000_000_000;

fn config(mode: &str) -> Value {
    let mut verifier = json!({"cluster": "warden_verifier", "authority": "warden-verifier",
                              "path": "/v1/check", "timeout_ms": 200, "failure_mode": "deny"});
    if mode == "stream" {
        verifier["mode"] = json!("stream");
        verifier["stream"] =
            json!({"path": "/v1/revocations", "max_staleness_ms": 1000, "max_entries": 100});
    }
    json!({
        "providers": {
            "main": {"issuer": "https://issuer.example", "audiences": ["api.example"],
                     "local_jwks": {"inline_string": jwks_all()}},
            "idp": {"issuer": "https://issuer.example",
                    "remote_jwks": {"cluster": "idp", "path": "/jwks", "authority": "idp.example",
                                    "timeout_ms": 500, "cache_duration_seconds": 600}}
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}],
        "verifier": verifier
    })
}

fn filter(mode: &str) -> Filter {
    let (filter, _) = Filter::configure(config(mode).to_string().as_bytes()).unwrap();
    assert_eq!(filter.config.providers[IDP].name, "idp");
    assert_eq!(filter.config.providers[MAIN].name, "main");
    filter
}

fn at(ms: u64) -> Now {
    Now::from_unix_ms(T0 + ms)
}

fn request(token: Option<&str>) -> Event {
    let mut headers = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), "/api".to_string()),
    ];
    if let Some(t) = token {
        headers.push(("authorization".to_string(), format!("Bearer {t}")));
    }
    Event::RequestHeaders(headers)
}

fn es256() -> String {
    let mut c = claims();
    c["exp"] = json!(T0 / 1000 + 600);
    c["iat"] = json!(T0 / 1000 - 10);
    c["nbf"] = json!(T0 / 1000 - 10);
    token(Algorithm::ES256, &c)
}

#[test]
fn the_provider_whose_token_decided_is_counted_with_the_decision() {
    let mut f = filter("callout");
    let mut flow = Flow::new();
    let step = flow.handle(&mut f, at(0), request(Some(&es256())));
    assert!(matches!(step.action, Action::CallVerifier(_)), "{step:?}");
    assert_eq!(step.report.counts.provider, None, "not decided yet");
    let step = flow.handle(
        &mut f,
        at(1),
        Event::VerifierAnswered(Reply::answered(200, br#"{"allow":true}"#)),
    );
    assert_eq!(
        (step.report.counts.allowed, step.report.counts.provider),
        (1, Some(MAIN))
    );

    // Refused by the verifier: a denial of that provider.
    let mut flow = Flow::new();
    flow.handle(&mut f, at(2), request(Some(&es256())));
    let answer = br#"{"allow":false,"reason":"revoked"}"#;
    let step = flow.handle(
        &mut f,
        at(3),
        Event::VerifierAnswered(Reply::answered(200, answer)),
    );
    assert_eq!(step.report.counts.denied, Some(Reason::Revoked));
    assert_eq!(step.report.counts.provider, Some(MAIN));

    // Refused before any call (expired): that provider's token decided.
    let mut expired = claims();
    expired["exp"] = json!(T0 / 1000 - 3600);
    let step = Flow::new().handle(
        &mut f,
        at(4),
        request(Some(&token(Algorithm::ES256, &expired))),
    );
    assert_eq!(step.report.counts.denied, Some(Reason::TokenExpired));
    assert_eq!(step.report.counts.provider, Some(MAIN));

    // No token: no provider to name, counted by reason only.
    let step = Flow::new().handle(&mut f, at(4), request(None));
    assert_eq!(step.report.counts.denied, Some(Reason::TokenMissing));
    assert_eq!(step.report.counts.provider, None);
}

const SNAPSHOT: &[u8] = br#"{"kind":"snapshot","seq":7,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;

#[test]
fn stream_resyncs_and_poll_failures_are_counted() {
    let mut f = filter("stream");
    let report = f.revocations_answered(&Reply::answered(200, SNAPSHOT), at(0), at(0));
    assert_eq!(
        (report.counts.feed_snapshots, report.counts.feed_failures),
        (1, 0)
    );
    let report = f.revocations_answered(&Reply::Failed, at(10), at(10));
    assert_eq!(
        (report.counts.feed_snapshots, report.counts.feed_failures),
        (0, 1)
    );
    let report = f.revocations_answered(&Reply::answered(503, b""), at(20), at(20));
    assert_eq!(report.counts.feed_failures, 1);
    // Changes that chain are neither.
    let change = br#"{"kind":"changes","after":7,"seq":7,"changes":[]}"#;
    let report = f.revocations_answered(&Reply::answered(200, change), at(30), at(30));
    assert_eq!(
        (report.counts.feed_snapshots, report.counts.feed_failures),
        (0, 0)
    );
}

#[test]
fn stream_staleness_counts_from_the_confirming_poll_send_and_from_the_start_before_any() {
    let mut f = filter("stream");
    let first = f.gauges(at(100));
    assert_eq!(
        first.stream,
        Some(StreamGauges {
            staleness_ms: 0,
            max_staleness_ms: 1000,
            trusted: false
        })
    );
    // Never confirmed: it ages from the first report.
    let g = f.gauges(at(700));
    assert_eq!(g.stream.unwrap().staleness_ms, 600);
    assert!(!g.stream.unwrap().trusted);

    // Sent at 800, answered at 900: confirmed as of 800.
    f.revocations_answered(&Reply::answered(200, SNAPSHOT), at(800), at(900));
    let g = f.gauges(at(1000)).stream.unwrap();
    assert_eq!((g.staleness_ms, g.trusted), (200, true));
    // Past the bound: stale and no longer trusted, in the same reading.
    let g = f.gauges(at(1800)).stream.unwrap();
    assert_eq!((g.staleness_ms, g.trusted), (1000, false));
    // A failed poll confirms nothing.
    f.revocations_answered(&Reply::Failed, at(1900), at(1900));
    assert_eq!(f.gauges(at(2800)).stream.unwrap().staleness_ms, 2000);
}

#[test]
fn key_set_age_is_since_the_last_usable_fetch_and_failures_do_not_reset_it() {
    let mut f = filter("callout");
    assert_eq!(f.gauges(at(0)).stream, None, "callout mode has no view");
    let g = f.gauges(at(4_000));
    assert_eq!(
        g.key_set_age_seconds,
        vec![(IDP, 4)],
        "only remote providers"
    );

    let jwks = json!({"keys": [jwk(Algorithm::ES256)]}).to_string();
    f.keys_fetched(IDP, Reply::answered(200, jwks.as_bytes()), at(5_000));
    assert_eq!(f.gauges(at(7_500)).key_set_age_seconds, vec![(IDP, 2)]);
    // The same document again: still a usable set, the age restarts.
    f.keys_fetched(IDP, Reply::answered(200, jwks.as_bytes()), at(10_000));
    assert_eq!(f.gauges(at(10_000)).key_set_age_seconds, vec![(IDP, 0)]);
    // Failures keep the old keys, and their age grows.
    f.keys_fetched(IDP, Reply::answered(500, b""), at(20_000));
    f.keys_fetched(IDP, Reply::answered(200, b"not json"), at(30_000));
    assert_eq!(
        f.gauges(at(40_000)),
        Gauges {
            stream: None,
            key_set_age_seconds: vec![(IDP, 30)]
        }
    );
}

#[test]
fn stat_segment_keeps_a_provider_name_one_prometheus_safe_segment() {
    assert_eq!(stat_segment("main"), "main");
    assert_eq!(stat_segment("Corp_IdP2"), "Corp_IdP2");
    assert_eq!(stat_segment("corp.idp-eu"), "corp_idp_eu");
    assert_eq!(stat_segment("é x"), "__x");
    assert_eq!(stat_segment(""), "_");
}
