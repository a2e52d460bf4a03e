#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Claims as filter state: the provider fields, and what the flow writes on success and failure.

mod common;

use common::*;
use serde_json::{json, Value};
use warden_core::config::{ClaimsState, Config};
use warden_core::flow::{Action, Event, Filter, Flow, Note, Now, Step};
use warden_core::{Algorithm, Reason};

fn config(fields: Value, verifier: bool) -> Value {
    let mut provider = json!({
        "issuer": "https://issuer.example",
        "audiences": ["api.example"],
        "local_jwks": {"inline_string": jwks_all()},
    });
    for (k, v) in fields.as_object().unwrap() {
        provider[k] = v.clone();
    }
    let mut config = json!({
        "providers": {"main": provider},
        "rules": [
            {"match": {"prefix": "/open"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}
        ]
    });
    if verifier {
        config["verifier"] = json!({"cluster": "warden_verifier", "failure_mode": "deny"});
    }
    config
}

fn all_fields() -> Value {
    json!({
        "payload_in_filter_state": "jwt",
        "header_in_filter_state": "jwt_header",
        "failed_status_in_filter_state": "jwt_failure",
        "normalize_payload_in_filter_state": {"space_delimited_claims": ["scope"]}
    })
}

fn error_of(config: Value) -> String {
    Config::parse(&config.to_string()).unwrap_err().to_string()
}

fn state(step: &Step, key: &str) -> Option<String> {
    step.report
        .filter_state
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

fn request(path: &str, token: Option<&str>) -> Event {
    let mut pairs = vec![(":method", "GET"), (":path", path)];
    let bearer = token.map(|t| format!("Bearer {t}"));
    if let Some(b) = &bearer {
        pairs.push(("authorization", b));
    }
    Event::RequestHeaders(headers(&pairs))
}

fn at() -> Now {
    Now::from_unix_ms(u64::try_from(NOW).unwrap() * 1000)
}

fn filter(config: Value) -> Filter {
    Filter::configure(config.to_string().as_bytes()).unwrap().0
}

#[test]
fn the_fields_compile() {
    let c = Config::parse(&config(all_fields(), false).to_string()).unwrap();
    assert_eq!(
        c.providers[0].claims_state,
        ClaimsState {
            payload_key: Some("jwt".into()),
            header_key: Some("jwt_header".into()),
            failed_status_key: Some("jwt_failure".into()),
            space_delimited_claims: vec!["scope".into()],
        }
    );
    let none = Config::parse(&config(json!({}), false).to_string()).unwrap();
    assert!(none.providers[0].claims_state.is_empty());
}

#[test]
fn bad_keys_are_refused_naming_the_field() {
    let cases = [
        (json!({"payload_in_filter_state": ""}), "providers.main.payload_in_filter_state: must be 1 to 128 bytes"),
        (json!({"payload_in_filter_state": "a:b"}), "providers.main.payload_in_filter_state: \"a:b\": use letters"),
        (json!({"header_in_filter_state": "a b"}), "providers.main.header_in_filter_state: \"a b\": use letters"),
        (json!({"payload_in_filter_state": ".jwt"}), "providers.main.payload_in_filter_state: \".jwt\""),
        (json!({"payload_in_filter_state": "a..b"}), "providers.main.payload_in_filter_state: \"a..b\""),
        (json!({"failed_status_in_filter_state": "x".repeat(129)}), "providers.main.failed_status_in_filter_state: must be 1 to 128"),
        (json!({"payload_in_filter_state": "warden"}), "providers.main.payload_in_filter_state: \"warden\": keys under \"warden.\" are the filter's own"),
        (json!({"payload_in_filter_state": "warden.decision"}), "keys under \"warden.\" are the filter's own"),
        (json!({"payload_in_filter_state": "jwt", "header_in_filter_state": "jwt"}), "providers.main.header_in_filter_state: \"jwt\" overlaps payload_in_filter_state \"jwt\""),
        (json!({"payload_in_filter_state": "jwt", "failed_status_in_filter_state": "jwt.failure"}), "providers.main.failed_status_in_filter_state: \"jwt.failure\" overlaps"),
        (json!({"header_in_filter_state": "h.x", "failed_status_in_filter_state": "h"}), "providers.main.failed_status_in_filter_state: \"h\" overlaps header_in_filter_state"),
        (json!({"normalize_payload_in_filter_state": {"space_delimited_claims": ["scope"]}}), "providers.main.normalize_payload_in_filter_state: needs payload_in_filter_state"),
        (json!({"payload_in_filter_state": "jwt", "normalize_payload_in_filter_state": {"space_delimited_claims": [""]}}), "providers.main.normalize_payload_in_filter_state.space_delimited_claims[0]: must be 1 to 128 bytes"),
        (json!({"payload_in_filter_state": "jwt", "normalize_payload_in_filter_state": {"other": 1}}), "providers.main.normalize_payload_in_filter_state.other: unknown field"),
        (json!({"payload_in_filter_state": 3}), "providers.main.payload_in_filter_state: invalid type"),
    ];
    for (fields, expected) in cases {
        let got = error_of(config(fields.clone(), false));
        assert!(got.contains(expected), "{fields}: {got}");
    }
    // Wardens's own namespace is `warden.`; a key merely starting with the letters is fine.
    Config::parse(&config(json!({"payload_in_filter_state": "wardens"}), false).to_string())
        .unwrap();
}

#[test]
fn providers_may_share_a_key_for_the_same_part_only() {
    let two = |a: Value, b: Value| {
        let mut c = config(a, false);
        let mut other = c["providers"]["main"].clone();
        for (k, v) in b.as_object().unwrap() {
            other[k] = v.clone();
        }
        for k in [
            "payload_in_filter_state",
            "header_in_filter_state",
            "failed_status_in_filter_state",
        ] {
            if b.get(k).is_none() {
                other.as_object_mut().unwrap().remove(k);
            }
        }
        c["providers"]["other"] = other;
        c
    };
    let shared = two(
        json!({"payload_in_filter_state": "jwt"}),
        json!({"payload_in_filter_state": "jwt"}),
    );
    Config::parse(&shared.to_string()).unwrap();
    let crossed = two(
        json!({"payload_in_filter_state": "jwt"}),
        json!({"header_in_filter_state": "jwt.h"}),
    );
    assert_eq!(
        error_of(crossed),
        "providers.other.header_in_filter_state: \"jwt.h\" overlaps providers.main.payload_in_filter_state \"jwt\""
    );
}

#[test]
fn a_verified_token_writes_its_claims_before_forwarding() {
    let mut f = filter(config(all_fields(), false));
    let mut claims = claims();
    claims["groups"] = json!(["admins", "dev"]);
    claims["scope"] = json!("read write");
    let token = token(Algorithm::ES256, &claims);
    let step = Flow::new().handle(&mut f, at(), request("/api", Some(&token)));
    assert!(
        matches!(step.action, Action::Forward(_)),
        "{:?}",
        step.action
    );
    assert_eq!(state(&step, "jwt.sub").as_deref(), Some("alice"));
    assert_eq!(state(&step, "jwt.groups").as_deref(), Some("admins,dev"));
    assert_eq!(state(&step, "jwt.scope").as_deref(), Some("read,write"));
    let payload: Value = serde_json::from_str(&state(&step, "jwt").unwrap()).unwrap();
    assert_eq!(payload["scope"], json!(["read", "write"]));
    assert_eq!(payload["sub"], json!("alice"));
    let header: Value = serde_json::from_str(&state(&step, "jwt_header").unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "JWT", "kid": "ES256"})
    );
    assert_eq!(state(&step, "jwt_failure"), None);
    // From the token cache: the same entries.
    let again = Flow::new().handle(&mut f, at(), request("/api", Some(&token)));
    assert_eq!(again.report.counts.cache_hits, 1);
    assert_eq!(again.report.filter_state, step.report.filter_state);
}

#[test]
fn a_refused_token_writes_its_status_and_no_claims() {
    let mut f = filter(config(all_fields(), false));
    let mut expired = claims();
    expired["exp"] = json!(NOW - 3600);
    let step = Flow::new().handle(
        &mut f,
        at(),
        request("/api", Some(&token(Algorithm::ES256, &expired))),
    );
    assert!(matches!(step.action, Action::Respond(_)));
    assert_eq!(state(&step, "jwt_failure.code").as_deref(), Some("401"));
    assert_eq!(
        state(&step, "jwt_failure.message").as_deref(),
        Some("token_expired")
    );
    let value: Value = serde_json::from_str(&state(&step, "jwt_failure").unwrap()).unwrap();
    assert_eq!(value, json!({"code": 401, "message": "token_expired"}));
    assert_eq!(state(&step, "jwt.sub"), None);
    assert_eq!(state(&step, "jwt"), None);
    // No token at all: the status names it (the only provider, as jwt_authn does).
    let missing = Flow::new().handle(&mut f, at(), request("/api", None));
    assert_eq!(
        state(&missing, "jwt_failure.message").as_deref(),
        Some("token_missing")
    );
    // A path refused for its shape is not a token's failure.
    let rejected = Flow::new().handle(&mut f, at(), request("/x/%2e%2e/open", None));
    assert_eq!(rejected.report.counts.denied, Some(Reason::PathRejected));
    assert_eq!(state(&rejected, "jwt_failure"), None);
}

#[test]
fn an_unprotected_path_writes_nothing_even_with_a_good_token() {
    let mut f = filter(config(all_fields(), false));
    let token = token(Algorithm::ES256, &claims());
    let step = Flow::new().handle(&mut f, at(), request("/open", Some(&token)));
    assert!(matches!(step.action, Action::Forward(_)));
    assert!(
        step.report.filter_state.is_empty(),
        "{:?}",
        step.report.filter_state
    );
}

#[test]
fn without_the_fields_nothing_is_written() {
    let mut f = filter(config(json!({}), false));
    let token = token(Algorithm::ES256, &claims());
    // Only the filter's own `warden.*` entries.
    let own = |step: &Step| {
        step.report
            .filter_state
            .iter()
            .all(|(k, _)| k.starts_with("warden."))
    };
    let step = Flow::new().handle(&mut f, at(), request("/api", Some(&token)));
    assert!(own(&step), "{:?}", step.report.filter_state);
    let step = Flow::new().handle(&mut f, at(), request("/api", None));
    assert!(own(&step), "{:?}", step.report.filter_state);
}

#[test]
fn claims_wait_for_the_verifier_and_a_revoked_token_writes_its_status() {
    use warden_core::flow::Reply;
    let mut f = filter(config(all_fields(), true));
    let token = token(Algorithm::ES256, &claims());
    let mut flow = Flow::new();
    let step = flow.handle(&mut f, at(), request("/api", Some(&token)));
    assert!(matches!(step.action, Action::CallVerifier(_)));
    // Nothing is written until the request is decided.
    assert!(step.report.filter_state.is_empty());
    let reply = Reply::Answered {
        status: 200,
        body: br#"{"allow":false,"reason":"revoked"}"#.to_vec(),
        size: 34,
    };
    let step = flow.handle(&mut f, at(), Event::VerifierAnswered(reply));
    assert!(
        matches!(step.action, Action::Respond(_)),
        "{:?}",
        step.action
    );
    assert_eq!(
        state(&step, "jwt_failure.message").as_deref(),
        Some("revoked")
    );
    assert_eq!(state(&step, "jwt.sub"), None);
}

#[test]
fn entries_left_out_are_noted() {
    let mut f = filter(config(all_fields(), false));
    let mut claims = claims();
    claims["bad name"] = json!("x");
    let token = token(Algorithm::ES256, &claims);
    let step = Flow::new().handle(&mut f, at(), request("/api", Some(&token)));
    assert!(step.report.notes.contains(&Note::FilterStateSkipped {
        provider: "main".into(),
        entries: 1
    }));
    assert_eq!(state(&step, "jwt.sub").as_deref(), Some("alice"));
}

#[test]
fn a_failed_token_the_requirement_did_without_records_its_failure() {
    // As jwt_authn: `allow_missing_or_failed` and a `requires_any` met by another provider still
    // record the failed token's status (`failed_status_in_metadata`).
    let mut c = config(all_fields(), false);
    c["providers"]["other"] = json!({
        "issuer": "https://other.example",
        "local_jwks": {"inline_string": jwks_all()},
        "from_headers": [{"name": "x-other"}],
    });
    c["rules"] = json!([
        {"match": {"prefix": "/soft"}, "requires": {"allow_missing_or_failed": {}}},
        {"match": {"prefix": "/any"}, "requires": {"requires_any": ["main", "other"]}},
    ]);
    let mut f = filter(c);
    let good = token(Algorithm::ES256, &claims());
    let bad = format!("{}x", &good[..good.len() - 1]);
    let step = Flow::new().handle(&mut f, at(), request("/soft", Some(&bad)));
    assert!(matches!(step.action, Action::Forward(_)));
    assert_eq!(state(&step, "jwt_failure.code").as_deref(), Some("401"));
    assert_eq!(state(&step, "jwt"), None);
    let mut other_claims = claims();
    other_claims["iss"] = json!("https://other.example");
    let other = token(Algorithm::ES256, &other_claims);
    let mut pairs = vec![(":method", "GET"), (":path", "/any")];
    let bearer = format!("Bearer {bad}");
    pairs.push(("authorization", &bearer));
    pairs.push(("x-other", &other));
    let step = Flow::new().handle(&mut f, at(), Event::RequestHeaders(headers(&pairs)));
    assert!(matches!(step.action, Action::Forward(_)));
    assert!(state(&step, "jwt_failure.message").is_some());
    // A good token writes no failure.
    let step = Flow::new().handle(&mut f, at(), request("/soft", Some(&good)));
    assert_eq!(state(&step, "jwt_failure"), None);
    assert!(state(&step, "jwt").is_some());
}

/// Two providers, `main` (Authorization) and `other` (`x-other-token`), each with its own keys.
fn two_providers(main_key: &str, other_key: &str, requires: Value) -> Value {
    let provider = |key: &str, fields: Value| {
        let mut p = json!({
            "issuer": "https://issuer.example",
            "audiences": ["api.example"],
            "local_jwks": {"inline_string": jwks_all()},
            "payload_in_filter_state": key,
            "failed_status_in_filter_state": format!("{key}_failure"),
        });
        for (k, v) in fields.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    json!({
        "providers": {
            "main": provider(main_key, json!({})),
            "other": provider(other_key, json!({"from_headers": [{"name": "x-other-token"}]})),
        },
        "rules": [{"match": {"prefix": "/"}, "requires": requires}]
    })
}

fn two_tokens(main: Option<&str>, other: Option<&str>) -> Event {
    let mut pairs = vec![(":method", "GET"), (":path", "/api")];
    let bearer = main.map(|t| format!("Bearer {t}"));
    if let Some(b) = &bearer {
        pairs.push(("authorization", b));
    }
    if let Some(t) = other {
        pairs.push(("x-other-token", t));
    }
    Event::RequestHeaders(headers(&pairs))
}

fn token_for(sub: &str, extra: Value) -> String {
    let mut c = claims();
    c["sub"] = json!(sub);
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    token(Algorithm::ES256, &c)
}

#[test]
fn requires_all_writes_each_providers_claims_under_its_key() {
    let mut f = filter(two_providers(
        "user",
        "svc",
        json!({"requires_all": ["main", "other"]}),
    ));
    let user = token_for("alice", json!({}));
    let svc = token_for("billing", json!({}));
    let step = Flow::new().handle(&mut f, at(), two_tokens(Some(&user), Some(&svc)));
    assert!(
        matches!(step.action, Action::Forward(_)),
        "{:?}",
        step.action
    );
    assert_eq!(state(&step, "user.sub").as_deref(), Some("alice"));
    assert_eq!(state(&step, "svc.sub").as_deref(), Some("billing"));
}

#[test]
fn a_shared_key_holds_one_tokens_claims_never_a_mix() {
    let mut f = filter(two_providers(
        "jwt",
        "jwt",
        json!({"requires_all": ["main", "other"]}),
    ));
    let user = token_for("alice", json!({"groups": ["admins"]}));
    let svc = token_for("billing", json!({}));
    let step = Flow::new().handle(&mut f, at(), two_tokens(Some(&user), Some(&svc)));
    assert!(
        matches!(step.action, Action::Forward(_)),
        "{:?}",
        step.action
    );
    // The later token takes the key whole: `groups` of the first is not beside its `sub`.
    assert_eq!(state(&step, "jwt.sub").as_deref(), Some("billing"));
    assert_eq!(state(&step, "jwt.groups"), None);
    let subs = step
        .report
        .filter_state
        .iter()
        .filter(|(k, _)| k == "jwt.sub")
        .count();
    assert_eq!(subs, 1);
}

#[test]
fn the_status_goes_to_the_provider_whose_token_failed() {
    let mut f = filter(two_providers(
        "user",
        "svc",
        json!({"requires_all": ["main", "other"]}),
    ));
    let user = token_for("alice", json!({}));
    let mut expired = claims();
    expired["exp"] = json!(NOW - 3600);
    let expired = token(Algorithm::ES256, &expired);
    let step = Flow::new().handle(&mut f, at(), two_tokens(Some(&user), Some(&expired)));
    assert!(
        matches!(step.action, Action::Respond(_)),
        "{:?}",
        step.action
    );
    assert_eq!(
        state(&step, "svc_failure.message").as_deref(),
        Some("token_expired")
    );
    assert_eq!(state(&step, "user_failure"), None);
    // No claims of a request that was refused, not even the token that verified.
    assert_eq!(state(&step, "user.sub"), None);
    // A missing token with two providers configured names no provider.
    let step = Flow::new().handle(&mut f, at(), two_tokens(None, None));
    assert!(step
        .report
        .filter_state
        .iter()
        .all(|(k, _)| k.starts_with("warden.")));
}

#[test]
fn report_only_records_the_status_and_writes_no_claims() {
    let mut config = config(all_fields(), false);
    config["rules"][1]["enforce"] = json!(false);
    let mut f = filter(config);
    let mut expired = claims();
    expired["exp"] = json!(NOW - 3600);
    let step = Flow::new().handle(
        &mut f,
        at(),
        request("/api", Some(&token(Algorithm::ES256, &expired))),
    );
    assert!(
        matches!(step.action, Action::Forward(_)),
        "{:?}",
        step.action
    );
    assert_eq!(
        state(&step, "jwt_failure.message").as_deref(),
        Some("token_expired")
    );
    assert_eq!(
        state(&step, "warden.decision").as_deref(),
        Some("report_only")
    );
    assert_eq!(state(&step, "jwt.sub"), None);
}
