//! What reaches the upstream: claim headers from the verified token, never from the client;
//! the token itself only with `forward: true`.

use crate::common::*;
use serde_json::json;

#[test]
fn claim_headers_are_set_and_spoofed_ones_removed() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(
        &mut host,
        "/api",
        Some(&token),
        &[
            ("x-jwt-sub", "mallory"),
            ("X-JWT-Email", "mallory@evil.example"),
            ("x-jwt-sub", "again"),
            ("x-other", "kept"),
        ],
    );
    let headers = forwarded(&host, request);
    assert_eq!(headers.get_all("x-jwt-sub"), vec!["alice"]);
    assert_eq!(headers.get_all("x-jwt-email"), vec!["alice@example.com"]);
    assert_eq!(headers.get("x-jwt-roles"), Some("admin,dev"));
    assert_eq!(headers.get("x-other"), Some("kept"));
    assert!(
        !headers.contains("authorization"),
        "the token is removed by default"
    );
}

#[test]
fn spoofed_claim_headers_are_removed_on_open_paths_too() {
    let mut host = start(&config());
    let request = get(&mut host, "/healthz", None, &[("x-jwt-sub", "mallory")]);
    let headers = forwarded(&host, request);
    assert!(!headers.contains("x-jwt-sub"), "{headers:?}");
}

#[test]
fn a_claim_the_token_lacks_leaves_no_header() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims_with(json!({"email": null})));
    let request = get(
        &mut host,
        "/api",
        Some(&token),
        &[("x-jwt-email", "spoofed")],
    );
    let headers = forwarded(&host, request);
    assert!(!headers.contains("x-jwt-email"));
}

#[test]
fn the_token_is_forwarded_only_when_configured() {
    let config = config_with(provider(&keys().jwks(), json!({"forward": true})), None);
    let mut host = start(&config);
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    let expected = format!("Bearer {token}");
    assert_eq!(
        forwarded(&host, request).get("authorization"),
        Some(expected.as_str())
    );
}

#[test]
fn token_from_a_query_parameter_is_stripped_from_the_path() {
    let config = config_with(
        provider(&keys().jwks(), json!({"from_params": ["access_token"]})),
        None,
    );
    let mut host = start(&config);
    let token = keys().sign(Alg::ES256, &claims());
    let path = format!("/api?a=1&access_token={token}&b=2");
    let request = host
        .request(&[(":method", "GET"), (":path", &path)])
        .unwrap();
    let headers = forwarded(&host, request);
    let forwarded_path = headers.get(":path").unwrap();
    assert!(!forwarded_path.contains(&token), "{forwarded_path}");
    assert!(forwarded_path.starts_with("/api?"), "{forwarded_path}");
}

#[test]
fn a_custom_header_and_prefix() {
    let config = config_with(
        provider(
            &keys().jwks(),
            json!({"from_headers": [{"name": "x-token", "value_prefix": "Token "}]}),
        ),
        None,
    );
    let mut host = start(&config);
    let token = keys().sign(Alg::ES256, &claims());
    let value = format!("Token {token}");
    let request = host
        .request(&[(":method", "GET"), (":path", "/api"), ("x-token", &value)])
        .unwrap();
    let headers = forwarded(&host, request);
    assert!(!headers.contains("x-token"));
    // The default Authorization header is no longer a source.
    let request = get(&mut host, "/api", Some(&token), &[]);
    assert_denied(&host, request, "token_missing");
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let value = format!("{scheme} {token}");
        let request = host
            .request(&[
                (":method", "GET"),
                (":path", "/api"),
                ("authorization", &value),
            ])
            .unwrap();
        forwarded(&host, request);
    }
}

#[test]
fn unmatched_paths_pass_unchecked() {
    let config = json!({
        "providers": {"main": provider(&keys().jwks(), json!({}))},
        "rules": [{"match": {"prefix": "/api"}, "requires": {"provider_name": "main"}},
                  {"match": {"path": "/exact"}, "requires": {"provider_name": "main"}}],
    });
    let mut host = start(&config);
    let request = get(&mut host, "/public", None, &[]);
    forwarded(&host, request);
    let request = get(&mut host, "/exact/sub", None, &[]);
    forwarded(&host, request);
    let request = get(&mut host, "/exact", None, &[]);
    assert_denied(&host, request, "token_missing");
}

#[test]
fn requires_any_accepts_either_provider() {
    let other = Keys::from_seed_with_rsa("other", &keys().rsa);
    let config = json!({
        "providers": {
            "main": provider(&keys().jwks(), json!({})),
            "partner": provider(&json!({"keys": [other.jwk(Alg::EdDSA)]}), json!({"issuer": "https://partner.example"})),
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": ["main", "partner"]}}],
    });
    let mut host = start(&config);
    let token = other.sign(
        Alg::EdDSA,
        &claims_with(json!({"iss": "https://partner.example"})),
    );
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
}

#[test]
fn token_from_a_cookie_is_removed_and_other_cookies_kept() {
    let config = config_with(
        provider(&keys().jwks(), json!({"from_cookies": ["session"]})),
        None,
    );
    let mut host = start(&config);
    let token = keys().sign(Alg::ES256, &claims());
    let cookie = format!("theme=dark; session={token}; lang=en");
    let request = host
        .request(&[(":method", "GET"), (":path", "/api"), ("cookie", &cookie)])
        .unwrap();
    let headers = forwarded(&host, request);
    let forwarded_cookie = headers.get("cookie").unwrap_or_default();
    assert!(!forwarded_cookie.contains(&token), "{forwarded_cookie}");
    assert!(
        forwarded_cookie.contains("theme=dark") && forwarded_cookie.contains("lang=en"),
        "{forwarded_cookie}"
    );
}

#[test]
fn responses_pass_through_untouched() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    let request = get(&mut host, "/api", Some(&token), &[]);
    forwarded(&host, request);
    let response = host
        .respond(request, &[(":status", "200"), ("x-upstream", "1")])
        .unwrap();
    let headers = response
        .forwarded_headers()
        .cloned()
        .expect("response forwarded");
    assert_eq!(headers.get("x-upstream"), Some("1"));
    host.finish(request).unwrap();
}
