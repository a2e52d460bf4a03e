#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The request flow as the adapter drives it: events in, actions and reports out.

mod common;

use common::*;
use serde_json::{json, Value};
use warden_core::flow::{
    Action, Call, Counts, Event, Filter, Flow, Level, Note, Now, Reply, Step, MAX_VERIFIER_BODY,
    VERIFIER_WARNING_INTERVAL_MS,
};
use warden_core::forward::Forwarding;
use warden_core::protocol::CheckRequest;
use warden_core::{Algorithm, Reason};

const IDP: usize = 0;
const MAIN: usize = 1;

fn verifier(failure_mode: &str) -> Value {
    json!({"cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
           "timeout_ms": 200, "failure_mode": failure_mode})
}

/// `main` has local keys of every algorithm; `idp` fetches its keys from a remote JWKS.
fn config(verifier: Option<Value>) -> Value {
    let mut config = json!({
        "providers": {
            "main": {
                "issuer": "https://issuer.example",
                "audiences": ["api.example"],
                "local_jwks": {"inline_string": jwks_all()},
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            },
            "idp": {
                "issuer": "https://issuer.example",
                "remote_jwks": {"cluster": "idp", "path": "/jwks", "authority": "idp.example",
                                "timeout_ms": 500, "cache_duration_seconds": 600},
                "claim_to_headers": [{"header_name": "x-idp-sub", "claim_name": "sub"}]
            }
        },
        "rules": [
            {"match": {"prefix": "/healthz"}},
            {"match": {"prefix": "/idp"}, "requires": {"provider_name": "idp"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}
        ]
    });
    if let Some(v) = verifier {
        config["verifier"] = v;
    }
    config
}

fn filter(config: Value) -> Filter {
    let (filter, _) = Filter::configure(config.to_string().as_bytes()).unwrap();
    assert_eq!(filter.config.providers[IDP].name, "idp");
    assert_eq!(filter.config.providers[MAIN].name, "main");
    filter
}

fn at(secs: i64) -> Now {
    Now::from_unix_ms(u64::try_from(secs).unwrap() * 1000)
}

fn request(path: &str, token: Option<&str>) -> Event {
    let mut headers = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), path.to_string()),
        ("x-jwt-sub".to_string(), "mallory".to_string()),
        ("x-idp-sub".to_string(), "mallory".to_string()),
    ];
    if let Some(t) = token {
        headers.push(("authorization".to_string(), format!("Bearer {t}")));
    }
    Event::RequestHeaders(headers)
}

fn es256() -> String {
    token(Algorithm::ES256, &claims())
}

fn jwks_of(algs: &[Algorithm]) -> Vec<u8> {
    let keys: Vec<Value> = algs.iter().map(|a| jwk(*a)).collect();
    json!({ "keys": keys }).to_string().into_bytes()
}

#[track_caller]
fn forwarded(step: &Step) -> &Forwarding {
    match &step.action {
        Action::Forward(edits) => edits,
        other => panic!("expected a forward, got {other:?}"),
    }
}

#[track_caller]
fn answered(step: &Step) -> (u32, String) {
    match &step.action {
        Action::Respond(r) => {
            let challenge = r
                .headers
                .iter()
                .find(|(n, _)| n == "www-authenticate")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (r.status, challenge)
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[track_caller]
fn verifier_call(step: &Step) -> &Call {
    match &step.action {
        Action::CallVerifier(call) => call,
        other => panic!("expected a verifier call, got {other:?}"),
    }
}

#[track_caller]
fn keys_fetch(step: &Step) -> (usize, &Call) {
    match &step.action {
        Action::FetchKeys { provider, call } => (*provider, call),
        other => panic!("expected a JWKS fetch, got {other:?}"),
    }
}

fn has(edits: &Forwarding, name: &str, value: &str) -> bool {
    edits.set.contains(&(name.to_string(), value.to_string()))
}

fn removes(edits: &Forwarding, name: &str) -> bool {
    edits.remove.iter().any(|n| n == name)
}

#[test]
fn unprotected_path_forwards_with_claim_headers_stripped() {
    let mut f = filter(config(Some(verifier("deny"))));
    let mut flow = Flow::new();
    let step = flow.handle(&mut f, at(NOW), request("/healthz", None));
    let edits = forwarded(&step);
    assert!(removes(edits, "x-jwt-sub") && removes(edits, "x-idp-sub"));
    assert!(edits.set.is_empty());
    assert_eq!(step.report, Default::default());
}

#[test]
fn good_token_is_checked_with_the_verifier_then_forwarded_with_edits() {
    let mut f = filter(config(Some(verifier("deny"))));
    let mut flow = Flow::new();
    let token = es256();
    let step = flow.handle(&mut f, at(NOW), request("/api", Some(&token)));
    assert_eq!(
        step.report.counts,
        Counts {
            cache_misses: 1,
            ..Counts::default()
        }
    );
    let call = verifier_call(&step);
    assert_eq!(call.cluster, "warden_verifier");
    assert_eq!(
        call.request_headers(),
        vec![
            (":method", "POST"),
            (":path", "/v1/check"),
            (":authority", "warden-verifier"),
            ("content-type", "application/json"),
        ]
    );
    assert_eq!(call.timeout_ms, 200);
    assert_eq!(call.max_response_bytes, MAX_VERIFIER_BODY);
    let check: CheckRequest = serde_json::from_slice(call.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (check.sub.as_str(), check.jti.as_deref()),
        ("alice", Some("j1"))
    );
    assert_eq!(check.exp, NOW + 600);

    let step = flow.handle(
        &mut f,
        at(NOW),
        Event::VerifierAnswered(Reply::answered(200, br#"{"allow":true}"#)),
    );
    let edits = forwarded(&step);
    assert!(has(edits, "x-jwt-sub", "alice"), "{edits:?}");
    assert!(
        removes(edits, "authorization"),
        "the token is not forwarded"
    );
    assert!(removes(edits, "x-idp-sub"), "spoofed claim headers go");
    assert_eq!(
        step.report.counts,
        Counts {
            provider: Some(MAIN),
            allowed: 1,
            ..Counts::default()
        }
    );

    // The decision is made: later replies change nothing.
    let late = flow.handle(
        &mut f,
        at(NOW),
        Event::VerifierAnswered(Reply::answered(200, br#"{"allow":false}"#)),
    );
    assert!(matches!(late.action, Action::Nothing));
}

#[test]
fn the_verifier_call_carries_the_requests_trace_context() {
    let mut f = filter(config(Some(verifier("deny"))));
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let with_context = |extra: &[(&str, &str)]| {
        let Event::RequestHeaders(mut headers) = request("/api", Some(&es256())) else {
            unreachable!()
        };
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        Event::RequestHeaders(headers)
    };
    let step = Flow::new().handle(
        &mut f,
        at(NOW),
        with_context(&[
            ("traceparent", parent),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]),
    );
    let headers = verifier_call(&step).request_headers();
    assert_eq!(
        headers[4..],
        [
            ("traceparent", parent),
            ("tracestate", "rojo=00f067aa0ba902b7")
        ]
    );
    // A malformed traceparent is not sent, nor the tracestate that came with it.
    let step = Flow::new().handle(
        &mut f,
        at(NOW),
        with_context(&[("traceparent", "00-xyz-01"), ("tracestate", "rojo=1")]),
    );
    let headers = verifier_call(&step).request_headers();
    assert!(
        headers.iter().all(|(n, _)| !n.starts_with("trace")),
        "{headers:?}"
    );
    // The keys fetch of the same request carries none.
    let step = Flow::new().handle(
        &mut f,
        at(NOW),
        Event::RequestHeaders(vec![
            (":path".into(), "/idp".into()),
            ("authorization".into(), format!("Bearer {}", es256())),
            ("traceparent".into(), parent.into()),
        ]),
    );
    let (_, call) = keys_fetch(&step);
    assert!(call.trace_context.is_empty());
}

#[test]
fn verifier_deny_is_a_401_with_its_reason() {
    let mut f = filter(config(Some(verifier("allow"))));
    let mut flow = Flow::new();
    verifier_call(&flow.handle(&mut f, at(NOW), request("/api", Some(&es256()))));
    let step = flow.handle(
        &mut f,
        at(NOW),
        Event::VerifierAnswered(Reply::answered(
            200,
            br#"{"allow":false,"reason":"session_missing"}"#,
        )),
    );
    let (status, challenge) = answered(&step);
    assert_eq!(status, 401);
    assert!(
        challenge.contains("error_description=\"session_missing\""),
        "{challenge}"
    );
    assert_eq!(step.report.counts.denied, Some(Reason::SessionMissing));
    assert_eq!(step.report.counts.failure_mode_allowed, 0);
    assert_eq!(
        step.report.notes,
        vec![Note::Denied(Reason::SessionMissing)]
    );
}

/// Verifier replies that are not an answer.
fn failures() -> Vec<(&'static str, Reply)> {
    let mut padded = br#"{"allow":true}"#.to_vec();
    padded.resize(MAX_VERIFIER_BODY + 100, b' ');
    vec![
        ("5xx", Reply::answered(503, br#"{"allow":true}"#)),
        ("timeout", Reply::Failed),
        ("garbage", Reply::answered(200, b"<html>oops</html>")),
        (
            "allow not a bool",
            Reply::answered(200, br#"{"allow":"yes"}"#),
        ),
        (
            // The carrier reads only the first bytes; those alone would parse as an allow.
            "oversized",
            Reply::Answered {
                status: 200,
                body: padded[..MAX_VERIFIER_BODY].to_vec(),
                size: padded.len(),
            },
        ),
        ("not started", Reply::NotStarted("BadArgument".into())),
    ]
}

#[test]
fn verifier_failure_with_failure_mode_deny_is_a_503() {
    for (what, reply) in failures() {
        let mut f = filter(config(Some(verifier("deny"))));
        let mut flow = Flow::new();
        verifier_call(&flow.handle(&mut f, at(NOW), request("/api", Some(&es256()))));
        let step = flow.handle(&mut f, at(NOW), Event::VerifierAnswered(reply));
        let (status, challenge) = answered(&step);
        assert_eq!(status, 503, "{what}");
        assert_eq!(challenge, "", "{what}: no bearer challenge on a 503");
        assert_eq!(
            step.report.counts,
            Counts {
                provider: Some(MAIN),
                verifier_failures: 1,
                denied: Some(Reason::VerifierUnavailable),
                ..Counts::default()
            },
            "{what}"
        );
        assert!(
            step.report.notes.contains(&Note::VerifierUnavailable {
                allowed: false,
                warn: true
            }),
            "{what}: {:?}",
            step.report.notes
        );
    }
}

#[test]
fn verifier_failure_with_failure_mode_allow_forwards_and_is_counted() {
    for (what, reply) in failures() {
        let not_started = matches!(reply, Reply::NotStarted(_));
        let mut f = filter(config(Some(verifier("allow"))));
        let mut flow = Flow::new();
        verifier_call(&flow.handle(&mut f, at(NOW), request("/api", Some(&es256()))));
        let step = flow.handle(&mut f, at(NOW), Event::VerifierAnswered(reply));
        let edits = forwarded(&step);
        assert!(has(edits, "x-jwt-sub", "alice"), "{what}: {edits:?}");
        assert!(removes(edits, "authorization"), "{what}");
        assert_eq!(
            step.report.counts,
            Counts {
                provider: Some(MAIN),
                verifier_failures: 1,
                failure_mode_allowed: 1,
                ..Counts::default()
            },
            "{what}"
        );
        let unavailable = Note::VerifierUnavailable {
            allowed: true,
            warn: true,
        };
        assert_eq!(unavailable.level(), Level::Warn);
        assert!(step.report.notes.contains(&unavailable), "{what}");
        if not_started {
            assert!(step.report.notes.contains(&Note::VerifierNotStarted {
                cluster: "warden_verifier".into(),
                why: "BadArgument".into()
            }));
        }
    }
}

#[test]
fn an_outage_warns_once_per_interval() {
    let mut f = filter(config(Some(verifier("deny"))));
    let token = es256();
    let mut warnings = Vec::new();
    for secs in [0, 1, 2, VERIFIER_WARNING_INTERVAL_MS as i64 / 1000] {
        let mut flow = Flow::new();
        verifier_call(&flow.handle(&mut f, at(NOW + secs), request("/api", Some(&token))));
        let step = flow.handle(
            &mut f,
            at(NOW + secs),
            Event::VerifierAnswered(Reply::Failed),
        );
        let levels: Vec<Level> = step
            .report
            .notes
            .iter()
            .filter(|n| matches!(n, Note::VerifierUnavailable { .. }))
            .map(Note::level)
            .collect();
        warnings.push(levels);
    }
    assert_eq!(
        warnings,
        vec![
            vec![Level::Warn],
            vec![Level::Debug],
            vec![Level::Debug],
            vec![Level::Warn]
        ]
    );
}

#[test]
fn no_verifier_configured_allows_a_good_token_at_once() {
    let mut f = filter(config(None));
    let token = es256();
    let step = Flow::new().handle(&mut f, at(NOW), request("/api", Some(&token)));
    assert!(has(forwarded(&step), "x-jwt-sub", "alice"));
    assert_eq!(
        step.report.counts,
        Counts {
            provider: Some(MAIN),
            allowed: 1,
            cache_misses: 1,
            ..Counts::default()
        }
    );
    // A second request with the same token is served from the cache.
    let step = Flow::new().handle(&mut f, at(NOW), request("/api", Some(&token)));
    assert_eq!(
        step.report.counts,
        Counts {
            provider: Some(MAIN),
            allowed: 1,
            cache_hits: 1,
            ..Counts::default()
        }
    );
}

#[test]
fn bad_tokens_are_answered_without_a_verifier_call() {
    let mut f = filter(config(Some(verifier("allow"))));
    let step = Flow::new().handle(&mut f, at(NOW), request("/api", None));
    assert_eq!(answered(&step), (401, "Bearer realm=\"warden\"".into()));
    assert_eq!(step.report.counts.denied, Some(Reason::TokenMissing));

    let mut expired = claims();
    expired["exp"] = json!(NOW - 3600);
    let expired = token(Algorithm::ES256, &expired);
    let step = Flow::new().handle(&mut f, at(NOW), request("/api", Some(&expired)));
    let (status, challenge) = answered(&step);
    assert_eq!(status, 401);
    assert!(challenge.contains("token_expired"), "{challenge}");

    // Verified locally, but without `jti` it cannot be checked for revocation.
    let mut no_jti = claims();
    no_jti.as_object_mut().unwrap().remove("jti");
    let no_jti = token(Algorithm::ES256, &no_jti);
    let step = Flow::new().handle(&mut f, at(NOW), request("/api", Some(&no_jti)));
    assert_eq!(step.report.counts.denied, Some(Reason::ClaimMissing));
}

fn without_jti() -> String {
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove("jti");
    token(Algorithm::ES256, &claims)
}

/// A provider with `require_jti: false` (identity providers whose access tokens carry none).
fn jti_optional(verifier: Value) -> Filter {
    let mut c = config(Some(verifier));
    c["providers"]["main"]["require_jti"] = json!(false);
    filter(c)
}

#[test]
fn a_provider_may_let_tokens_without_jti_be_checked_without_one() {
    let mut f = jti_optional(verifier("deny"));
    let step = Flow::new().handle(&mut f, at(NOW), request("/api", Some(&without_jti())));
    let body = verifier_call(&step).body.clone().unwrap();
    let check: CheckRequest = serde_json::from_slice(&body).unwrap();
    assert_eq!((check.sub.as_str(), check.jti), ("alice", None));
    assert!(
        !String::from_utf8_lossy(&body).contains("jti"),
        "no jti on the wire"
    );
    // A token that has one still sends it.
    let step = Flow::new().handle(&mut f, at(NOW), request("/api", Some(&es256())));
    let check: CheckRequest =
        serde_json::from_slice(verifier_call(&step).body.as_deref().unwrap()).unwrap();
    assert_eq!(check.jti.as_deref(), Some("j1"));
}

#[test]
fn stream_mode_judges_a_token_without_jti_by_its_user() {
    let mut f = jti_optional(stream_verifier("deny"));
    let snapshot =
        br#"{"kind":"snapshot","seq":1,"skew_seconds":300,"jtis":[],"users":[],"sessions":[]}"#;
    f.revocations_answered(&Reply::answered(200, snapshot), at_ms(0), at_ms(0));
    let step = Flow::new().handle(&mut f, at_ms(1), request("/api", Some(&without_jti())));
    assert!(has(forwarded(&step), "x-jwt-sub", "alice"));
    // The user is revoked at the token's iat: refused locally, without a call.
    let iat = claims()["iat"].as_i64().unwrap();
    let change = format!(
        r#"{{"kind":"changes","after":1,"seq":2,"changes":[{{"seq":2,"change":{{"type":"user","sub":"alice","version":1,"not_before":{iat}}}}}]}}"#
    );
    f.revocations_answered(&Reply::answered(200, change.as_bytes()), at_ms(2), at_ms(2));
    let step = Flow::new().handle(&mut f, at_ms(3), request("/api", Some(&without_jti())));
    assert_eq!(step.report.counts.denied, Some(Reason::UserRevoked));
}

#[test]
fn missing_kid_on_a_remote_provider_fetches_keys_then_decides_again() {
    let mut f = filter(config(Some(verifier("deny"))));
    let mut flow = Flow::new();
    let step = flow.handle(&mut f, at(NOW), request("/idp/x", Some(&es256())));
    let (provider, call) = keys_fetch(&step);
    assert_eq!(provider, IDP);
    assert_eq!(call.cluster, "idp");
    assert_eq!(
        call.request_headers(),
        vec![
            (":method", "GET"),
            (":path", "/jwks"),
            (":authority", "idp.example"),
            ("accept", "application/json"),
        ]
    );
    assert_eq!((call.body.as_ref(), call.timeout_ms), (None, 500));

    // A reply for another provider, or a verifier answer, is not what the flow waits for.
    let stray = flow.handle(
        &mut f,
        at(NOW),
        Event::KeysFetched {
            provider: MAIN,
            reply: Reply::Failed,
        },
    );
    assert!(matches!(stray.action, Action::Nothing));
    let stray = flow.handle(
        &mut f,
        at(NOW),
        Event::VerifierAnswered(Reply::answered(200, br#"{"allow":true}"#)),
    );
    assert!(matches!(stray.action, Action::Nothing));

    let step = flow.handle(
        &mut f,
        at(NOW),
        Event::KeysFetched {
            provider: IDP,
            reply: Reply::answered(200, &jwks_of(&[Algorithm::ES256])),
        },
    );
    assert_eq!(step.report.counts.jwks_fetch_ok, 1);
    assert_eq!(
        step.report.notes,
        vec![Note::KeysUpdated {
            provider: "idp".into()
        }]
    );
    verifier_call(&step);
    let step = flow.handle(
        &mut f,
        at(NOW),
        Event::VerifierAnswered(Reply::answered(200, br#"{"allow":true}"#)),
    );
    assert!(has(forwarded(&step), "x-idp-sub", "alice"));

    // The keys stay for the next request.
    let step = Flow::new().handle(&mut f, at(NOW + 1), request("/idp/x", Some(&es256())));
    verifier_call(&step);
}

#[test]
fn a_failed_fetch_decides_with_the_keys_we_have() {
    let mut f = filter(config(None));
    // Keys are loaded, but not the token's.
    let due = f.due_fetches(at(NOW));
    assert_eq!(due.len(), 1);
    let report = f.keys_fetched(
        IDP,
        Reply::answered(200, &jwks_of(&[Algorithm::EdDSA])),
        at(NOW),
    );
    assert_eq!(report.counts.jwks_fetch_ok, 1);

    let mut flow = Flow::new();
    let step = flow.handle(&mut f, at(NOW + 1), request("/idp", Some(&es256())));
    assert_eq!(keys_fetch(&step).0, IDP);
    let step = flow.handle(
        &mut f,
        at(NOW + 2),
        Event::KeysFetched {
            provider: IDP,
            reply: Reply::Failed,
        },
    );
    let (status, challenge) = answered(&step);
    assert_eq!(status, 401);
    assert!(challenge.contains("key_not_found"), "{challenge}");
    assert_eq!(step.report.counts.jwks_fetch_failed, 1);
    assert!(matches!(
        step.report.notes.first(),
        Some(Note::KeysFetchFailed { provider, why }) if provider == "idp" && why.contains("no response")
    ));

    // The EdDSA key loaded earlier still serves.
    let eddsa = token(Algorithm::EdDSA, &claims());
    let step = Flow::new().handle(&mut f, at(NOW + 3), request("/idp", Some(&eddsa)));
    assert!(has(forwarded(&step), "x-idp-sub", "alice"));
}

#[test]
fn one_request_fetches_keys_at_most_once() {
    let mut f = filter(config(None));
    let mut flow = Flow::new();
    keys_fetch(&flow.handle(&mut f, at(NOW), request("/idp", Some(&es256()))));
    // The fetched set still lacks the token's key: no second fetch, a decision.
    let step = flow.handle(
        &mut f,
        at(NOW),
        Event::KeysFetched {
            provider: IDP,
            reply: Reply::answered(200, &jwks_of(&[Algorithm::EdDSA])),
        },
    );
    let (status, challenge) = answered(&step);
    assert_eq!(status, 401);
    assert!(challenge.contains("key_not_found"), "{challenge}");
    assert_eq!(step.report.counts.denied, Some(Reason::KeyNotFound));

    // Another request soon after is rate-limited: decided with the keys we have.
    let step = Flow::new().handle(&mut f, at(NOW + 1), request("/idp", Some(&es256())));
    assert_eq!(answered(&step).0, 401);
}

#[test]
fn a_fetch_that_cannot_start_is_a_failed_fetch() {
    let mut f = filter(config(None));
    let mut flow = Flow::new();
    keys_fetch(&flow.handle(&mut f, at(NOW), request("/idp", Some(&es256()))));
    let step = flow.handle(
        &mut f,
        at(NOW),
        Event::KeysFetched {
            provider: IDP,
            reply: Reply::NotStarted("BadArgument".into()),
        },
    );
    assert_eq!(answered(&step).0, 401);
    assert_eq!(step.report.counts.jwks_fetch_failed, 1);
    let note = step.report.notes.first().unwrap();
    assert_eq!(note.level(), Level::Warn);
    assert_eq!(
        note.to_string(),
        "providers.idp.remote_jwks: fetch failed, keeping previous keys: dispatch failed \
         (BadArgument); is the cluster defined?"
    );
}

#[test]
fn scheduled_fetches_refresh_keys() {
    let mut f = filter(config(None));
    let mut long_lived = claims();
    long_lived["exp"] = json!(NOW + 86_400);
    let token = token(Algorithm::ES256, &long_lived);
    assert_eq!(f.tick_ms(), Some(1000));
    let due = f.due_fetches(at(NOW));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, IDP);
    assert_eq!(due[0].1.path, "/jwks");
    assert!(f.due_fetches(at(NOW)).is_empty(), "in flight");

    let jwks = jwks_of(&[Algorithm::ES256]);
    let report = f.keys_fetched(IDP, Reply::answered(200, &jwks), at(NOW));
    assert_eq!(report.counts.jwks_fetch_ok, 1);
    // The request now needs no fetch.
    let step = Flow::new().handle(&mut f, at(NOW), request("/idp", Some(&token)));
    assert!(has(forwarded(&step), "x-idp-sub", "alice"));

    // Refreshed after `cache_duration_seconds`; the same document is no news.
    assert!(f.due_fetches(at(NOW + 599)).is_empty());
    assert_eq!(f.due_fetches(at(NOW + 600)).len(), 1);
    let report = f.keys_fetched(IDP, Reply::answered(200, &jwks), at(NOW + 600));
    assert_eq!(report.counts.jwks_fetch_ok, 1);
    assert!(report.notes.is_empty());

    // Errors keep the keys.
    assert_eq!(f.due_fetches(at(NOW + 1200)).len(), 1);
    let report = f.keys_fetched(IDP, Reply::answered(503, b"down"), at(NOW + 1200));
    assert!(
        matches!(&report.notes[..], [Note::KeysFetchFailed { why, .. }] if why == "HTTP status 503")
    );
    assert_eq!(f.due_fetches(at(NOW + 1205)).len(), 1, "retried soon");
    let report = f.keys_fetched(
        IDP,
        Reply::Answered {
            status: 200,
            body: jwks.clone(),
            size: 10 << 20,
        },
        at(NOW + 1205),
    );
    assert!(
        matches!(&report.notes[..], [Note::KeysFetchFailed { why, .. }] if why.contains("larger than"))
    );
    let step = Flow::new().handle(&mut f, at(NOW + 1206), request("/idp", Some(&token)));
    assert!(has(forwarded(&step), "x-idp-sub", "alice"));
}

#[test]
fn configuration_is_checked_and_summarised() {
    let (f, notes) = Filter::configure(config(None).to_string().as_bytes()).unwrap();
    assert_eq!(
        notes,
        vec![Note::Configured {
            providers: 2,
            rules: 3
        }]
    );
    assert_eq!(notes[0].to_string(), "configured 2 provider(s), 3 rule(s)");
    assert_eq!(notes[0].level(), Level::Info);
    assert_eq!(f.config.providers.len(), 2);

    let err = Filter::configure(b"\xff\xfe").err().unwrap();
    assert_eq!(
        err.to_string(),
        "invalid configuration: configuration is not UTF-8"
    );
    let err = Filter::configure(br#"{"providers":{"x":{}}}"#)
        .err()
        .unwrap();
    assert_eq!(err.level(), Level::Error);
    assert!(
        err.to_string()
            .starts_with("invalid configuration: providers.x"),
        "{err}"
    );

    let local_only = json!({"providers": {"main": {"local_jwks": {"inline_string": jwks_all()}}}});
    let (f, _) = Filter::configure(local_only.to_string().as_bytes()).unwrap();
    assert_eq!(f.tick_ms(), None);
}

#[test]
fn without_configuration_requests_fail_closed() {
    let step = Flow::unconfigured();
    assert_eq!(answered(&step).0, 503);
    assert_eq!(step.report.counts, Counts::default());
}

fn stream_verifier(failure_mode: &str) -> Value {
    let mut v = verifier(failure_mode);
    v["mode"] = json!("stream");
    v["stream"] = json!({"path": "/v1/revocations", "max_staleness_ms": 1000, "max_entries": 100});
    v
}

fn at_ms(ms: u64) -> Now {
    Now::from_unix_ms(u64::try_from(NOW).unwrap() * 1000 + ms)
}

#[test]
fn stream_mode_polls_then_decides_locally_while_the_view_is_fresh() {
    let mut f = filter(config(Some(stream_verifier("deny"))));
    assert_eq!(f.tick_ms(), Some(warden_core::flow::STREAM_TICK_MS));
    let poll = f.revocation_poll().unwrap();
    assert_eq!(
        poll.request_headers()[..2],
        [
            (":method", "GET"),
            (":path", "/v1/revocations?ids=1&wait_ms=0&max_live=100")
        ]
    );
    // Not synchronised yet: the request calls out as in callout mode.
    let step = Flow::new().handle(&mut f, at_ms(0), request("/api", Some(&es256())));
    assert_eq!(verifier_call(&step).path, "/v1/check");

    let snapshot = br#"{"kind":"snapshot","seq":7,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;
    let report = f.revocations_answered(&Reply::answered(200, snapshot), at_ms(10), at_ms(10));
    assert!(report.notes.contains(&Note::FeedSynced { entries: 0 }));
    let poll = f.revocation_poll().unwrap();
    assert_eq!(
        poll.path,
        "/v1/revocations?after=7&ids=1&wait_ms=250&max_live=100"
    );
    assert_eq!(poll.timeout_ms, 450, "wait_ms + the verifier's timeout");
    assert_eq!(poll.cluster, "warden_verifier");
    let step = Flow::new().handle(&mut f, at_ms(20), request("/api", Some(&es256())));
    assert!(has(forwarded(&step), "x-jwt-sub", "alice"));
    assert_eq!(step.report.counts.allowed, 1);

    // A change denies locally, with the verifier's reason.
    let change = br#"{"kind":"changes","after":7,"seq":8,"changes":[{"seq":8,"change":{"type":"jti","sub":"alice","jti":"j1","until":null}}]}"#;
    f.revocations_answered(&Reply::answered(200, change), at_ms(30), at_ms(30));
    let step = Flow::new().handle(&mut f, at_ms(40), request("/api", Some(&es256())));
    let (status, challenge) = answered(&step);
    assert_eq!(status, 401);
    assert!(
        challenge.contains("error_description=\"revoked\""),
        "{challenge}"
    );
    assert_eq!(step.report.counts.denied, Some(Reason::Revoked));
}

/// Staleness counts from when the poll was sent: an answer that took 900 ms confirms the view
/// only as of its send, so it goes stale 1000 ms after the send, not after the arrival.
#[test]
fn stream_mode_a_slow_answer_confirms_as_of_its_send() {
    let mut f = filter(config(Some(stream_verifier("deny"))));
    let snapshot = br#"{"kind":"snapshot","seq":1,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;
    f.revocations_answered(&Reply::answered(200, snapshot), at_ms(0), at_ms(900));
    let step = Flow::new().handle(&mut f, at_ms(999), request("/api", Some(&es256())));
    forwarded(&step);
    let step = Flow::new().handle(&mut f, at_ms(1000), request("/api", Some(&es256())));
    assert_eq!(verifier_call(&step).path, "/v1/check");
}

#[test]
fn stream_mode_with_a_stale_view_calls_out_and_failure_mode_applies() {
    let mut f = filter(config(Some(stream_verifier("deny"))));
    let snapshot = br#"{"kind":"snapshot","seq":1,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;
    f.revocations_answered(&Reply::answered(200, snapshot), at_ms(0), at_ms(0));
    for bad in [
        Reply::answered(503, b"{}"),
        Reply::NotStarted("BadArgument".into()),
        Reply::Answered {
            status: 200,
            body: b"{}".to_vec(),
            size: 100_000_000,
        },
    ] {
        let report = f.revocations_answered(&bad, at_ms(400), at_ms(400));
        assert!(
            report
                .notes
                .iter()
                .any(|n| matches!(n, Note::FeedFailed { .. })),
            "{bad:?}"
        );
    }
    let report = f.revocations_answered(&Reply::Failed, at_ms(500), at_ms(500));
    assert!(report
        .notes
        .iter()
        .any(|n| matches!(n, Note::FeedFailed { .. })));
    // Still within max_staleness_ms of the last good answer.
    let step = Flow::new().handle(&mut f, at_ms(999), request("/api", Some(&es256())));
    forwarded(&step);
    // Past it: a callout, and a failed callout is a 503 under failure_mode deny.
    let mut flow = Flow::new();
    verifier_call(&flow.handle(&mut f, at_ms(1000), request("/api", Some(&es256()))));
    let step = flow.handle(&mut f, at_ms(1001), Event::VerifierAnswered(Reply::Failed));
    assert_eq!(answered(&step).0, 503);

    let mut f = filter(config(Some(stream_verifier("allow"))));
    let mut flow = Flow::new();
    verifier_call(&flow.handle(&mut f, at_ms(0), request("/api", Some(&es256()))));
    let step = flow.handle(&mut f, at_ms(1), Event::VerifierAnswered(Reply::Failed));
    forwarded(&step);
    assert_eq!(step.report.counts.failure_mode_allowed, 1);
}

#[test]
fn callout_mode_never_polls() {
    let f = filter(config(Some(verifier("deny"))));
    assert!(f.revocations.is_none());
    assert!(f.revocation_poll().is_none());
}
