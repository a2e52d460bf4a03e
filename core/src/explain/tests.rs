#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use serde_json::json;
use warden_testkit::{keys, other_keys, Algorithm as Alg};

const NOW: i64 = 1_800_000_000;

fn claims() -> Value {
    json!({"iss": "https://issuer.example", "aud": "api.example", "sub": "alice", "jti": "j1",
           "iat": NOW - 10, "exp": NOW + 600})
}

fn provider() -> Value {
    json!({"issuer": "https://issuer.example", "audiences": ["api.example"],
           "local_jwks": {"inline_string": keys().jwks().to_string()},
           "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
           "from_params": ["access_token"],
           "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]})
}

fn config() -> String {
    json!({"providers": {"main": provider()},
           "rules": [{"match": {"prefix": "/healthz"}},
                     {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]})
    .to_string()
}

fn request(path: &str, token: Option<&str>) -> Request {
    let mut r = json!({"method": "GET", "path": path, "now": NOW});
    if let Some(t) = token {
        r["headers"] = json!({"authorization": format!("Bearer {t}")});
    }
    serde_json::from_value(r).unwrap()
}

fn run(config: &str, request: &Request) -> Explanation {
    explain(config, request, 0).unwrap()
}

fn with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[test]
fn valid_token_is_forwarded_with_claim_headers() {
    let token = keys().sign(Alg::ES256, &claims());
    let e = run(&config(), &request("/api", Some(&token)));
    assert_eq!((e.status, e.reason.as_str()), (200, "allowed"));
    assert_eq!(e.failed_at, None);
    assert_eq!(e.rule.index, Some(1));
    let p = &e.providers[0];
    assert_eq!(p.outcome, "allowed");
    let t = p.token.as_ref().unwrap();
    assert_eq!(t.alg.as_deref(), Some("ES256"));
    let tried: Vec<_> = t.keys.iter().filter(|k| k.candidate).collect();
    assert_eq!(tried.len(), 1);
    assert_eq!(tried[0].result, Some("valid"));
    assert_eq!(tried[0].kind, "EC P-256");
    let fwd = e.forwarded_headers.unwrap();
    assert!(fwd.contains(&("x-jwt-sub".into(), "alice".into())));
    assert!(fwd.iter().all(|(n, _)| n != "authorization"));
}

#[test]
fn expired_token_fails_at_claims_with_the_date() {
    let token = keys().sign(Alg::ES256, &with(json!({"exp": NOW - 3600})));
    let e = run(&config(), &request("/api", Some(&token)));
    assert_eq!((e.status, e.reason.as_str()), (401, "token_expired"));
    assert_eq!(e.failed_at, Some("claims"));
    assert_eq!(
        e.www_authenticate.as_deref(),
        Some(
            "Bearer realm=\"warden\", error=\"invalid_token\", error_description=\"token_expired\""
        )
    );
    let checks = &e.providers[0].token.as_ref().unwrap().claim_checks;
    let exp = checks.iter().find(|c| c.claim == "exp").unwrap();
    assert_eq!(exp.verdict, "fail");
    assert_eq!(exp.date.as_deref(), Some("2027-01-15T07:00:00Z"));
    assert!(checks
        .iter()
        .filter(|c| c.claim != "exp")
        .all(|c| c.verdict != "fail"));
}

#[test]
fn wrong_audience_names_the_audience_check() {
    let token = keys().sign(Alg::EdDSA, &with(json!({"aud": "other.example"})));
    let e = run(&config(), &request("/api", Some(&token)));
    assert_eq!(e.reason, "audience_mismatch");
    let checks = &e.providers[0].token.as_ref().unwrap().claim_checks;
    let aud = checks.iter().find(|c| c.claim == "aud").unwrap();
    assert_eq!(
        (aud.verdict, aud.value.clone()),
        ("fail", Some(json!("other.example")))
    );
}

#[test]
fn subjects_and_lifetime_fail_at_claims() {
    let mut p = provider();
    p["subjects"] = json!({"exact": "bob"});
    p["max_lifetime_seconds"] = json!(300);
    let config = json!({"providers": {"main": p},
                        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]})
    .to_string();
    let token = keys().sign(Alg::ES256, &claims());
    let e = run(&config, &request("/api", Some(&token)));
    assert_eq!(
        (e.reason.as_str(), e.failed_at),
        ("subject_mismatch", Some("claims"))
    );
    let token = keys().sign(Alg::ES256, &with(json!({"sub": "bob"})));
    let e = run(&config, &request("/api", Some(&token)));
    assert_eq!(
        (e.reason.as_str(), e.failed_at),
        ("lifetime_too_long", Some("claims"))
    );
    let token = keys().sign(Alg::ES256, &with(json!({"sub": "bob", "exp": NOW + 200})));
    assert_eq!(run(&config, &request("/api", Some(&token))).status, 200);
}

#[test]
fn unknown_kid_lists_the_keys_and_why_none_was_tried() {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "nope"});
    let token = other_keys().sign_with_header(Alg::ES256, &header, &claims());
    let e = run(&config(), &request("/api", Some(&token)));
    assert_eq!((e.status, e.reason.as_str()), (401, "key_not_found"));
    assert_eq!(e.failed_at, Some("key"));
    let t = e.providers[0].token.as_ref().unwrap();
    assert_eq!(t.kid.as_deref(), Some("nope"));
    assert!(t.keys.iter().all(|k| !k.candidate && k.why_not.is_some()));
}

#[test]
fn foreign_signature_is_invalid_with_the_key_tried() {
    let token = other_keys().sign(Alg::ES256, &claims());
    let e = run(&config(), &request("/api", Some(&token)));
    assert_eq!(
        (e.reason.as_str(), e.failed_at),
        ("signature_invalid", Some("signature"))
    );
    let t = e.providers[0].token.as_ref().unwrap();
    assert!(t
        .keys
        .iter()
        .any(|k| k.candidate && k.result == Some("invalid")));
}

#[test]
fn path_bypass_is_rejected_with_the_readings() {
    let e = run(&config(), &request("/healthz/..%2Fapi", None));
    assert_eq!((e.status, e.reason.as_str()), (400, "path_rejected"));
    assert_eq!(e.failed_at, Some("rule"));
    assert_eq!(e.rule.verdict, "rejected");
    let rules: Vec<_> = e.rule.readings.iter().map(|r| r["rule"].clone()).collect();
    assert!(
        rules.contains(&json!(0)) && rules.contains(&json!(1)),
        "{rules:?}"
    );
}

#[test]
fn open_rule_and_missing_token() {
    let e = run(&config(), &request("/healthz", None));
    assert_eq!((e.status, e.reason.as_str()), (200, "unprotected"));
    let e = run(&config(), &request("/api", None));
    assert_eq!((e.status, e.reason.as_str()), (401, "token_missing"));
    assert_eq!(e.failed_at, Some("extract"));
    assert_eq!(
        e.www_authenticate.as_deref(),
        Some("Bearer realm=\"warden\"")
    );
    let r: Request = serde_json::from_value(
        json!({"path": "/api", "now": NOW, "headers": {"authorization": "Bearer "}}),
    )
    .unwrap();
    let e = run(&config(), &r);
    assert_eq!(
        (e.reason.as_str(), e.failed_at),
        ("token_malformed", Some("extract"))
    );
    assert_eq!(e.providers[0].outcome, "empty");
}

#[test]
fn query_parameter_token_is_found_and_taken_out() {
    let token = keys().sign(Alg::ES256, &claims());
    let r: Request = serde_json::from_value(
        json!({"path": "/api?x=1", "query": {"access_token": token}, "now": NOW}),
    )
    .unwrap();
    let e = run(&config(), &r);
    assert_eq!(e.reason, "allowed");
    assert_eq!(
        e.providers[0].token_source.as_deref(),
        Some("query parameter access_token")
    );
    let path = e
        .forwarded_headers
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == ":path")
        .unwrap();
    assert_eq!(path.1, "/api?x=1");
}

#[test]
fn duplicate_tokens_are_malformed_at_extraction() {
    let token = keys().sign(Alg::ES256, &claims());
    let bearer = format!("Bearer {token}");
    let r: Request = serde_json::from_value(json!({"path": "/api", "now": NOW,
        "headers": [["authorization", bearer], ["Authorization", bearer]]}))
    .unwrap();
    let e = run(&config(), &r);
    assert_eq!(e.reason, "token_malformed");
    assert_eq!(e.providers[0].extracted, "duplicate");
    assert_eq!(e.failed_at, Some("extract"));
}

fn with_verifier(failure_mode: &str) -> String {
    let mut c: Value = serde_json::from_str(&config()).unwrap();
    c["verifier"] = json!({"cluster": "warden_verifier", "failure_mode": failure_mode});
    c.to_string()
}

#[test]
fn verifier_call_carries_the_check_request() {
    let token = keys().sign(Alg::ES256, &claims());
    let e = run(&with_verifier("deny"), &request("/api", Some(&token)));
    assert_eq!(e.reason, "allowed");
    let call = e.verifier_call.unwrap();
    assert_eq!(call["method"], "POST");
    assert_eq!(call["path"], "/v1/check");
    assert_eq!(call["body"]["sub"], "alice");
    assert_eq!(call["body"]["jti"], "j1");
}

#[test]
fn verifier_answers_deny_and_outage() {
    let token = keys().sign(Alg::ES256, &claims());
    let mut r = request("/api", Some(&token));
    r.verifier =
        Some(serde_json::from_value(json!({"allow": false, "reason": "revoked"})).unwrap());
    let e = run(&with_verifier("deny"), &r);
    assert_eq!(
        (e.status, e.reason.as_str(), e.failed_at),
        (401, "revoked", Some("verifier"))
    );
    r.verifier = Some(serde_json::from_value(json!("unavailable")).unwrap());
    let e = run(&with_verifier("deny"), &r);
    assert_eq!((e.status, e.reason.as_str()), (503, "verifier_unavailable"));
    let e = run(&with_verifier("allow"), &r);
    assert_eq!((e.status, e.reason.as_str()), (200, "failure_mode_allow"));
}

#[test]
fn token_without_jti_cannot_be_checked() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("jti");
    let token = keys().sign(Alg::ES256, &c);
    let e = run(&with_verifier("deny"), &request("/api", Some(&token)));
    assert_eq!(
        (e.reason.as_str(), e.failed_at),
        ("claim_missing", Some("verifier_request"))
    );
}

#[test]
fn remote_jwks_uses_the_pasted_document() {
    let config = json!({"providers": {"idp": {"issuer": "https://issuer.example",
        "remote_jwks": {"cluster": "idp", "path": "/jwks"}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}]})
    .to_string();
    let token = keys().sign(Alg::RS256, &claims());
    let mut r = request("/api", Some(&token));
    let e = run(&config, &r);
    assert_eq!(e.reason, "key_not_found");
    assert!(!e.jwks_fetches.is_empty());
    let public = warden_testkit::jwks_of([keys().jwk(Alg::RS256)]);
    r.jwks.insert("idp".into(), public);
    let e = run(&config, &r);
    assert_eq!(e.reason, "allowed", "{:?}", e.log);
    assert_eq!(
        e.providers[0].token.as_ref().unwrap().key_source,
        "remote_jwks"
    );
}

#[test]
fn bad_config_names_the_field() {
    let c = json!({"providers": {"main": {"local_jwks": {"inline_string": "{}"}}}}).to_string();
    let err = compile(&c).err().unwrap();
    assert_eq!(err.path, "providers.main.local_jwks");
    assert!(err
        .message
        .starts_with("invalid configuration: providers.main.local_jwks: "));
    let err = compile(r#"{"rules": [{"match": {"prefx": "/"}}]}"#)
        .err()
        .unwrap();
    assert_eq!(err.path, "rules[0].match.prefx");
    let err = compile("{").err().unwrap();
    assert!(err.message.starts_with("invalid configuration"));
}

#[test]
fn compile_summarises_providers_and_rules() {
    let (_, c) = compile(&config()).unwrap();
    assert_eq!(c.providers[0]["name"], "main");
    assert_eq!(c.rules[1]["requires_any"], json!(["main"]));
    assert!(c.log.iter().any(|l| l.starts_with("configured 1 provider")));
}

#[test]
fn apply_replaces_and_removes() {
    let headers = vec![
        ("a".to_string(), "1".to_string()),
        ("b".to_string(), "2".to_string()),
        ("b".to_string(), "3".to_string()),
    ];
    let edits = Forwarding {
        remove: vec!["a".into()],
        set: vec![("b".into(), "x".into()), ("c".into(), "y".into())],
        clear_route_cache: false,
    };
    assert_eq!(
        apply(&headers, &edits),
        vec![
            ("b".to_string(), "x".to_string()),
            ("c".to_string(), "y".to_string())
        ]
    );
}
