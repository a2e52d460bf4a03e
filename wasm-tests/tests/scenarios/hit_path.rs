//! The repeat-token path and the open-route floor (issue 11 §2): what the filter still sees and
//! refuses once the cache answers, and the host calls it no longer makes.

use crate::common::*;
use std::collections::BTreeMap;
use warden_wasm_tests::Host;

/// Host calls made by `f`, by function.
fn calls_of(host: &mut Host, f: impl FnOnce(&mut Host)) -> BTreeMap<&'static str, u64> {
    let before = host.host_calls();
    f(host);
    host.host_calls()
        .into_iter()
        .filter_map(|(name, n)| {
            let d = n - before.get(name).copied().unwrap_or(0);
            (d > 0).then_some((name, d))
        })
        .collect()
}

#[test]
fn a_second_authorization_header_is_refused_after_a_cache_hit() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    let first = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, first);
    let hit = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, hit);
    assert_eq!(host.metric("warden.cache.hit"), Some(1));
    // The cached token first, a forged one after it: the upstream might read the second.
    for second in ["Bearer forged", "bearer x.y.z"] {
        let request = get(
            &mut host,
            "/api",
            Some(&token),
            &[("authorization", second)],
        );
        assert_denied(&host, request, "token_malformed");
    }
    // And in the other order, with the cached token second.
    let request = host
        .request(&[
            (":method", "GET"),
            (":path", "/api"),
            (":authority", "api.example"),
            ("authorization", "Bearer forged"),
            ("authorization", &format!("Bearer {token}")),
        ])
        .unwrap();
    assert_denied(&host, request, "token_malformed");
}

#[test]
fn only_the_whole_cached_token_hits() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    let first = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, first);
    // A prefix or an extension of a cached token is another token: verified, and refused.
    for other in [&token[..token.len() - 1], &format!("{token}A")] {
        let request = get(&mut host, "/api", Some(other), &[]);
        let response = answered(&host, request);
        assert_eq!(response.status, 401, "{other}");
    }
    assert_eq!(host.metric("warden.cache.hit"), Some(0));
}

#[test]
fn a_cached_token_still_expires() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    let first = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, first);
    host.set_unix_time(NOW + 24 * 3600);
    let request = get(&mut host, "/api", Some(&token), &[]);
    assert_denied(&host, request, "token_expired");
    assert_eq!(host.metric("warden.cache.hit"), Some(1));
}

#[test]
fn spoofed_claim_headers_go_in_every_spelling_and_absent_ones_cost_nothing() {
    let mut host = start(&config());
    let spoofed = [
        ("x-jwt-sub", "mallory"),
        ("x_jwt_sub", "mallory"),
        ("x-jwt_email", "m@evil"),
    ];
    let request = get(&mut host, "/healthz", None, &spoofed);
    let headers = forwarded(&host, request);
    for (name, _) in spoofed {
        assert_eq!(headers.get(name), None, "{name} reached the upstream");
    }

    // A clean request on the open route: the headers are read once and nothing is edited.
    let calls = calls_of(&mut host, |host| {
        let request = get(host, "/healthz", None, &[]);
        forwarded(host, request);
    });
    assert_eq!(
        calls.get("proxy_get_header_map_pairs"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(calls.get("proxy_get_header_map_value"), None, "{calls:?}");
    assert_eq!(
        calls.get("proxy_remove_header_map_value"),
        None,
        "{calls:?}"
    );
    assert_eq!(
        calls.get("proxy_replace_header_map_value"),
        None,
        "{calls:?}"
    );

    // A cache hit: the token header is removed and the three claim headers set, nothing else.
    let token = keys().sign(Alg::ES256, &claims());
    let first = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, first);
    let calls = calls_of(&mut host, |host| {
        let request = get(host, "/api", Some(&token), &[]);
        let headers = forwarded(host, request);
        assert_eq!(headers.get("x-jwt-sub"), Some("alice"));
        assert_eq!(headers.get("authorization"), None);
    });
    assert_eq!(
        calls.get("proxy_get_header_map_pairs"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(
        calls.get("proxy_remove_header_map_value"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(
        calls.get("proxy_replace_header_map_value"),
        Some(&3),
        "{calls:?}"
    );
}
