//! Every supported algorithm verifies end to end; a signature from another key does not.

use crate::common::*;
use serde_json::json;

#[test]
fn every_algorithm_is_accepted() {
    let mut host = start(&config());
    for alg in Alg::ALL {
        let token = keys().sign(
            alg,
            &claims_with(json!({"jti": format!("jti-{}", alg.name())})),
        );
        let request = get(&mut host, "/api", Some(&token), &[]);
        let headers = forwarded(&host, request);
        assert_eq!(headers.get("x-jwt-sub"), Some("alice"), "{}", alg.name());
    }
    assert_eq!(host.metric("warden.allowed"), Some(Alg::ALL.len() as u64));
}

#[test]
fn a_token_signed_by_another_key_is_refused_for_every_algorithm() {
    let mut host = start(&config());
    let other = warden_testkit::other_keys();
    for alg in Alg::ALL {
        let token = other.sign(alg, &claims());
        let request = get(&mut host, "/api", Some(&token), &[]);
        assert_denied(&host, request, "signature_invalid");
    }
}

#[test]
fn tokens_without_kid_find_the_key_by_type() {
    let mut host = start(&config());
    for alg in [Alg::ES256, Alg::RS256, Alg::EdDSA, Alg::HS256] {
        let token = keys().sign_with_header(alg, &json!({"alg": alg.name()}), &claims());
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
    }
}

#[test]
fn algorithm_allow_list_is_enforced() {
    let config = config_with(
        provider(&keys().jwks(), json!({"algorithms": ["ES256"]})),
        None,
    );
    let mut host = start(&config);
    let request = get(
        &mut host,
        "/api",
        Some(&keys().sign(Alg::ES256, &claims())),
        &[],
    );
    forwarded(&host, request);
    let request = get(
        &mut host,
        "/api",
        Some(&keys().sign(Alg::RS256, &claims())),
        &[],
    );
    assert_denied(&host, request, "algorithm_not_allowed");
}

#[test]
fn a_key_pinned_to_one_algorithm_serves_no_other() {
    // The RSA key pinned to RS256 may not verify a PS256 token.
    let mut jwk = keys().jwk(Alg::RS256);
    jwk["alg"] = json!("RS256");
    let config = config_with(provider(&json!({"keys": [jwk]}), json!({})), None);
    let mut host = start(&config);
    let request = get(
        &mut host,
        "/api",
        Some(&keys().sign(Alg::RS256, &claims())),
        &[],
    );
    forwarded(&host, request);
    let request = get(
        &mut host,
        "/api",
        Some(&keys().sign(Alg::PS256, &claims())),
        &[],
    );
    assert_denied(&host, request, "key_not_found");
}

#[test]
fn claim_rules() {
    let mut host = start(&config());
    let cases = [
        (json!({"exp": NOW - 61}), "token_expired"),
        (json!({"nbf": NOW + 61}), "token_not_yet_valid"),
        (json!({"iat": NOW + 61}), "token_not_yet_valid"),
        (json!({"iss": "https://evil.example"}), "issuer_mismatch"),
        (json!({"aud": "other.example"}), "audience_mismatch"),
        (json!({"aud": ["a", "b"]}), "audience_mismatch"),
        (json!({"exp": null}), "claim_missing"),
    ];
    for (changes, reason) in cases {
        let token = keys().sign(Alg::ES256, &claims_with(changes.clone()));
        let request = get(&mut host, "/api", Some(&token), &[]);
        assert_denied(&host, request, reason);
    }
    // Within the skew, and an audience list containing ours, pass.
    for changes in [
        json!({"exp": NOW - 59}),
        json!({"nbf": NOW + 59}),
        json!({"aud": ["x", AUDIENCE]}),
    ] {
        let token = keys().sign(Alg::ES256, &claims_with(changes));
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
    }
}

#[test]
fn missing_token_and_open_paths() {
    let mut host = start(&config());
    let request = get(&mut host, "/api", None, &[]);
    assert_denied(&host, request, "token_missing");
    let request = get(&mut host, "/healthz", None, &[]);
    forwarded(&host, request);
    let request = get(
        &mut host,
        "/api",
        None,
        &[("authorization", "Basic dXNlcjpwdw==")],
    );
    assert_denied(&host, request, "token_missing");
}
