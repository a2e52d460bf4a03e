//! Remote key sets: fetched by the root context on the first tick and refreshed on schedule,
//! fetched by a request on an unknown `kid` (at most once per 10 s), kept when a refresh fails.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;
use warden_wasm_tests::{Host, HttpCall, LogLevel};

const JWKS_PATH: &str = "/.well-known/jwks.json";

fn remote_config() -> Value {
    let remote = json!({"cluster": "idp", "path": JWKS_PATH, "authority": "idp.example",
                        "timeout_ms": 1000, "cache_duration_seconds": 600});
    config_with(
        provider(
            &json!({}),
            json!({"local_jwks": null, "remote_jwks": remote}),
        ),
        None,
    )
}

fn jwks_of(keys: &[Value]) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}

fn jwks_call(host: &Host) -> HttpCall {
    let call = host.pending_http_call_to("idp").expect("a JWKS fetch");
    assert_eq!(call.method(), Some("GET"));
    assert_eq!(call.path(), Some(JWKS_PATH));
    assert_eq!(call.authority(), Some("idp.example"));
    assert_eq!(call.timeout, Duration::from_millis(1000));
    call
}

/// A host whose first tick fetched `jwks`.
fn loaded_host(jwks: &[Value]) -> Host {
    let mut host = start(&remote_config());
    host.advance(Duration::from_secs(1)).unwrap();
    let call = jwks_call(&host);
    host.respond_http_call(
        call.token,
        200,
        &[("content-type", "application/json")],
        &jwks_of(jwks),
    )
    .unwrap();
    host
}

#[test]
fn the_first_tick_fetches_the_key_set() {
    let mut host = start(&remote_config());
    assert_eq!(host.tick_period(), Some(Duration::from_secs(1)));
    assert!(
        host.pending_http_calls().is_empty(),
        "nothing is fetched during on_configure"
    );
    host.advance(Duration::from_secs(1)).unwrap();
    let call = jwks_call(&host);
    assert_eq!(
        call.context_id,
        host.root_context_id(),
        "the root context fetches"
    );
    host.respond_http_call(call.token, 200, &[], &jwks_of(&[keys().jwk(Alg::ES256)]))
        .unwrap();
    assert_eq!(host.metric("warden.jwks.fetch_success"), Some(1));
    assert!(
        host.has_log(LogLevel::Info, "providers.main.remote_jwks: keys updated"),
        "{:?}",
        host.logs()
    );

    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
}

#[test]
fn the_key_set_is_refreshed_after_cache_duration_and_kept_when_refresh_fails() {
    let mut host = loaded_host(&[keys().jwk(Alg::ES256)]);
    host.advance(Duration::from_secs(599)).unwrap();
    assert!(
        host.pending_http_calls().is_empty(),
        "no refresh before cache_duration_seconds"
    );
    host.advance(Duration::from_secs(1)).unwrap();
    let call = jwks_call(&host);
    host.respond_http_call(call.token, 503, &[], b"down")
        .unwrap();
    assert_eq!(host.metric("warden.jwks.fetch_failure"), Some(1));
    assert!(
        host.has_log(LogLevel::Warn, "fetch failed, keeping previous keys"),
        "{:?}",
        host.logs()
    );

    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);

    // A failed refresh is retried soon, not after another cache_duration.
    host.advance(Duration::from_secs(5)).unwrap();
    let call = jwks_call(&host);
    // This time it times out: still the old keys.
    host.advance(Duration::from_secs(1)).unwrap();
    assert!(host.http_call_pending(call.token).is_none());
    assert_eq!(host.metric("warden.jwks.fetch_failure"), Some(2));
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
}

#[test]
fn an_unknown_kid_makes_the_request_fetch_the_keys() {
    let mut host = loaded_host(&[keys().jwk(Alg::ES256)]);
    let rotated = Keys::from_seed_with_rsa("rotated", &keys().rsa);
    let mut new_jwk = rotated.jwk(Alg::ES256);
    new_jwk["kid"] = json!("p256-2");
    let header = json!({"alg": "ES256", "kid": "p256-2"});
    let token = rotated.sign_with_header(Alg::ES256, &header, &claims());

    let request = get(&mut host, "/api", Some(&token), &[]);
    assert!(host.outcome(request).is_paused());
    let call = jwks_call(&host);
    assert_eq!(
        call.context_id,
        request.context_id(),
        "the request itself fetches"
    );
    host.respond_http_call(
        call.token,
        200,
        &[],
        &jwks_of(&[keys().jwk(Alg::ES256), new_jwk]),
    )
    .unwrap();
    forwarded(&host, request);
    assert_eq!(host.metric("warden.jwks.fetch_success"), Some(2));
}

#[test]
fn unknown_kid_fetches_are_rate_limited() {
    let mut host = loaded_host(&[keys().jwk(Alg::ES256)]);
    let token_with_kid = |kid: &str| {
        keys().sign_with_header(Alg::ES256, &json!({"alg": "ES256", "kid": kid}), &claims())
    };

    let first = get(&mut host, "/api", Some(&token_with_kid("nope-1")), &[]);
    let call = jwks_call(&host);
    host.respond_http_call(call.token, 200, &[], &jwks_of(&[keys().jwk(Alg::ES256)]))
        .unwrap();
    assert_denied(&host, first, "key_not_found");

    // Within 10 s another unknown kid is refused at once, without a fetch.
    host.advance(Duration::from_secs(9)).unwrap();
    let second = get(&mut host, "/api", Some(&token_with_kid("nope-2")), &[]);
    assert_denied(&host, second, "key_not_found");
    assert!(host.pending_http_calls().is_empty());

    // After 10 s a fetch is allowed again.
    host.advance(Duration::from_secs(1)).unwrap();
    let third = get(&mut host, "/api", Some(&token_with_kid("nope-3")), &[]);
    assert!(host.outcome(third).is_paused());
    jwks_call(&host);
}

#[test]
fn a_request_before_the_first_tick_fetches_the_keys_itself() {
    let mut host = start(&remote_config());
    let token = keys().sign(Alg::EdDSA, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    assert!(host.outcome(request).is_paused());
    let call = jwks_call(&host);
    assert_eq!(call.context_id, request.context_id());
    host.respond_http_call(call.token, 200, &[], &jwks_of(&[keys().jwk(Alg::EdDSA)]))
        .unwrap();
    forwarded(&host, request);
}

#[test]
fn an_unreachable_identity_provider_fails_requests_closed_with_key_not_found() {
    let mut host = start(&remote_config());
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    let call = jwks_call(&host);
    host.fail_http_call(call.token).unwrap();
    assert_denied(&host, request, "key_not_found");
    assert_eq!(host.metric("warden.jwks.fetch_failure"), Some(1));
}

#[test]
fn a_bad_document_keeps_the_previous_keys() {
    let mut host = loaded_host(&[keys().jwk(Alg::ES256)]);
    host.advance(Duration::from_secs(600)).unwrap();
    let call = jwks_call(&host);
    host.respond_http_call(call.token, 200, &[], b"{\"keys\": \"nope\"}")
        .unwrap();
    assert_eq!(host.metric("warden.jwks.fetch_failure"), Some(1));
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
}

#[test]
fn a_key_dropped_from_the_set_stops_serving_cached_tokens() {
    let mut host = loaded_host(&[keys().jwk(Alg::ES256)]);
    let token = keys().sign(Alg::ES256, &claims());
    for _ in 0..2 {
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
    }
    assert_eq!(host.metric("warden.cache.hit"), Some(1));
    // The identity provider rotates: the old key is gone.
    let rotated = Keys::from_seed_with_rsa("rotated", &keys().rsa);
    let mut new_jwk = rotated.jwk(Alg::ES256);
    new_jwk["kid"] = json!("p256-2");
    host.advance(Duration::from_secs(600)).unwrap();
    let call = jwks_call(&host);
    host.respond_http_call(call.token, 200, &[], &jwks_of(&[new_jwk.clone()]))
        .unwrap();
    let request = get(&mut host, "/api", Some(&token), &[]);
    if let Some(call) = host.pending_http_call_to("idp") {
        host.respond_http_call(call.token, 200, &[], &jwks_of(&[new_jwk]))
            .unwrap();
    }
    assert_denied(&host, request, "key_not_found");
}

/// Answers every pending JWKS fetch (including ones made while answering) with `jwks`.
fn answer_jwks_fetches(host: &mut Host, jwks: &[Value]) {
    for _ in 0..10 {
        let Some(call) = host.pending_http_call_to("idp") else {
            return;
        };
        host.respond_http_call(call.token, 200, &[], &jwks_of(jwks))
            .unwrap();
    }
}

#[test]
fn requests_wait_for_an_in_flight_key_fetch() {
    let token = keys().sign(Alg::ES256, &claims());
    // Another request's fetch is in flight.
    let mut host = start(&remote_config());
    let first = get(&mut host, "/api", Some(&token), &[]);
    let second = get(&mut host, "/api", Some(&token), &[]);
    assert!(
        host.outcome(second).is_paused(),
        "refused while keys load: {:?}",
        host.outcome(second)
    );
    answer_jwks_fetches(&mut host, &[keys().jwk(Alg::ES256)]);
    forwarded(&host, first);
    forwarded(&host, second);

    // The root context's first fetch is in flight.
    let mut host = start(&remote_config());
    host.advance(Duration::from_secs(1)).unwrap();
    let request = get(&mut host, "/api", Some(&token), &[]);
    assert!(
        host.outcome(request).is_paused(),
        "refused while keys load: {:?}",
        host.outcome(request)
    );
    answer_jwks_fetches(&mut host, &[keys().jwk(Alg::ES256)]);
    forwarded(&host, request);
}
