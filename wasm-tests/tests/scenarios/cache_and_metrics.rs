//! The verified-token cache and the counters operators watch.

use crate::common::*;
use serde_json::json;

#[test]
fn a_repeated_token_hits_the_cache() {
    let mut host = start(&config());
    let token = keys().sign(Alg::RS256, &claims());
    for _ in 0..3 {
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
        host.finish(request).unwrap();
    }
    assert_eq!(host.metric("warden.cache.miss"), Some(1));
    assert_eq!(host.metric("warden.cache.hit"), Some(2));
    assert_eq!(host.metric("warden.allowed"), Some(3));
}

#[test]
fn distinct_tokens_miss_the_cache() {
    let mut host = start(&config());
    for i in 0..3 {
        let token = keys().sign(Alg::ES256, &claims_with(json!({"jti": format!("j{i}")})));
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
    }
    assert_eq!(host.metric("warden.cache.miss"), Some(3));
    assert_eq!(host.metric("warden.cache.hit"), Some(0));
}

#[test]
fn expiry_is_checked_on_every_cache_hit() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims_with(json!({"exp": NOW + 100})));
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
    host.set_unix_time(NOW + 161);
    let request = get(&mut host, "/api", Some(&token), &[]);
    assert_denied(&host, request, "token_expired");
    assert_eq!(host.metric("warden.cache.hit"), Some(1));
}

#[test]
fn a_refused_token_is_not_cached() {
    let mut host = start(&config());
    let other = Keys::from_seed_with_rsa("other", &keys().rsa);
    let token = other.sign(Alg::ES256, &claims());
    for _ in 0..2 {
        let request = get(&mut host, "/api", Some(&token), &[]);
        assert_denied(&host, request, "signature_invalid");
    }
    assert_eq!(host.metric("warden.cache.hit"), Some(0));
    assert_eq!(host.metric("warden.denied.signature_invalid"), Some(2));
}

#[test]
fn every_documented_metric_is_defined() {
    let host = start(&config());
    let names: Vec<String> = host.metrics().into_iter().map(|m| m.name).collect();
    for name in [
        "warden.allowed",
        "warden.verifier.failure",
        "warden.verifier.failure_mode_allowed",
        "warden.jwks.fetch_success",
        "warden.jwks.fetch_failure",
        "warden.cache.hit",
        "warden.cache.miss",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} not defined; got {names:?}"
        );
    }
    for reason in warden_core::Reason::ALL {
        let name = format!("warden.denied.{reason}");
        assert!(names.contains(&name), "{name} not defined");
    }
}

#[test]
fn counters_follow_decisions() {
    let mut host = start(&config());
    let good = keys().sign(Alg::EdDSA, &claims());
    let expired = keys().sign(Alg::EdDSA, &claims_with(json!({"exp": NOW - 3600})));
    for token in [
        Some(good.as_str()),
        Some(expired.as_str()),
        None,
        Some("x.y.z"),
    ] {
        get(&mut host, "/api", token, &[]);
    }
    get(&mut host, "/healthz", None, &[]);
    assert_eq!(host.metric("warden.allowed"), Some(1));
    assert_eq!(host.metric("warden.denied.token_expired"), Some(1));
    assert_eq!(host.metric("warden.denied.token_missing"), Some(1));
    assert_eq!(host.metric("warden.denied.token_malformed"), Some(1));
}

#[test]
fn many_requests_in_one_vm_stay_healthy() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    for _ in 0..2000 {
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
        host.finish(request).unwrap();
    }
    assert_eq!(host.open_requests(), 0);
    assert_eq!(host.metric("warden.allowed"), Some(2000));
}
