//! The adapter's side of the jwt_authn fields: counters under `stat_prefix`, the fetch of
//! `fetch_at_start` sent from the configuration callback, `clear_route_cache` as Envoy's foreign
//! function, refusals stripped by `strip_failure_response`, the new reasons counted.

use crate::common::*;
use serde_json::json;

#[test]
fn stat_prefix_names_every_counter() {
    let mut config = config();
    config["stat_prefix"] = json!("edge");
    let mut host = start(&config);
    let names: Vec<String> = host.metrics().into_iter().map(|m| m.name).collect();
    for reason in warden_core::Reason::ALL {
        let name = format!("warden.edge.denied.{reason}");
        assert!(names.contains(&name), "{name} not defined");
    }
    assert!(
        !names.iter().any(|n| n == "warden.allowed"),
        "unprefixed counter: {names:?}"
    );
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
    assert_eq!(host.metric("warden.edge.allowed"), Some(1));
    assert_eq!(host.metric("warden.edge.cache.miss"), Some(1));
}

#[test]
fn new_reasons_are_answered_and_counted() {
    let extra = json!({"subjects": {"prefix": "spiffe://example.org/"},
                       "max_lifetime_seconds": 300});
    let mut host = start(&config_with(provider(&keys().jwks(), extra), None));
    let other = keys().sign(
        Alg::ES256,
        &claims_with(json!({"sub": "spiffe://evil.org/x", "exp": NOW + 100})),
    );
    let request = get(&mut host, "/api", Some(&other), &[]);
    assert_denied(&host, request, "subject_mismatch");
    let long = keys().sign(
        Alg::ES256,
        &claims_with(json!({"sub": "spiffe://example.org/x", "exp": NOW + 3600})),
    );
    let request = get(&mut host, "/api", Some(&long), &[]);
    assert_denied(&host, request, "lifetime_too_long");
    assert_eq!(host.metric("warden.denied.subject_mismatch"), Some(1));
    assert_eq!(host.metric("warden.denied.lifetime_too_long"), Some(1));
}

#[test]
fn strip_failure_response_answers_the_status_alone() {
    let mut config = config();
    config["strip_failure_response"] = json!(true);
    let mut host = start(&config);
    let request = get(&mut host, "/api", None, &[]);
    let response = answered(&host, request);
    assert_eq!(response.status, 401);
    assert!(response.body.is_empty(), "{response:?}");
    assert_eq!(response.header("www-authenticate"), None);
    assert_eq!(host.metric("warden.denied.token_missing"), Some(1));
}

#[test]
fn fetch_at_start_is_sent_from_on_configure() {
    let remote = |fetch_at_start: bool| {
        json!({"cluster": "idp", "path": "/jwks", "authority": "idp.example",
               "fetch_at_start": fetch_at_start})
    };
    for (eager, expected) in [(false, None), (true, Some("/jwks"))] {
        let host = start(&config_with(
            provider(
                &json!({}),
                json!({"local_jwks": null, "remote_jwks": remote(eager)}),
            ),
            None,
        ));
        // No tick yet: only `fetch_at_start` has sent a call.
        let call = host.pending_http_call_to("idp");
        assert_eq!(call.as_ref().and_then(|c| c.path()), expected, "{eager}");
    }
}

#[test]
fn clear_route_cache_calls_the_proxy_after_editing_headers() {
    let token = keys().sign(Alg::ES256, &claims());
    for (clear, clears) in [(false, 0), (true, 1)] {
        let extra = json!({"clear_route_cache": clear});
        let mut host = start(&config_with(provider(&keys().jwks(), extra), None));
        let request = get(&mut host, "/api", Some(&token), &[]);
        let headers = forwarded(&host, request);
        assert_eq!(headers.get("x-jwt-sub"), Some("alice"));
        assert_eq!(host.route_cache_clears(), clears, "{clear}");
        // A request the filter does not edit keeps its route.
        let request = get(&mut host, "/healthz", None, &[]);
        forwarded(&host, request);
        assert_eq!(host.route_cache_clears(), clears, "{clear}");
    }
}

#[test]
fn payload_header_and_cors_preflight() {
    let extra = json!({"forward_payload_header": "x-jwt-payload"});
    let mut config = config_with(provider(&keys().jwks(), extra), None);
    config["bypass_cors_preflight"] = json!(true);
    let mut host = start(&config);
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[("x-jwt-payload", "e30")]);
    let headers = forwarded(&host, request);
    assert_eq!(
        headers.get_all("x-jwt-payload"),
        vec![token.split('.').nth(1).unwrap()]
    );
    let request = host
        .request(&[
            (":method", "OPTIONS"),
            (":path", "/api"),
            (":authority", "api.example"),
            ("origin", "https://app.example"),
            ("access-control-request-method", "PUT"),
        ])
        .unwrap();
    forwarded(&host, request);
    assert_eq!(host.metric("warden.cors_preflight_bypassed"), Some(1));
}
