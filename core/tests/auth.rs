#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The whole per-request decision: rules, providers, cache, forwarding, verifier protocol.

mod common;

use common::*;
use serde_json::json;
use warden_core::auth::{self, authenticate, Authenticator, Outcome};
use warden_core::cache::TokenCache;
use warden_core::config::Config;
use warden_core::forward;
use warden_core::jwk::{JwkError, JwksError};
use warden_core::keystore::{FetchError, FetchResult, KeyStore, ON_DEMAND_MIN_INTERVAL_MS};
use warden_core::protocol::{self, Verdict};
use warden_core::{Algorithm, Reason};

fn config(extra_provider: serde_json::Value) -> Config {
    Config::parse(
        &json!({
            "providers": {
                "main": {
                    "issuer": "https://issuer.example",
                    "audiences": ["api.example"],
                    "local_jwks": {"inline_string": jwks_all()},
                    "from_headers": [{"name":"authorization","value_prefix":"Bearer "}],
                    "from_params": ["access_token"],
                    "from_cookies": ["session"],
                    "claim_to_headers": [{"header_name":"x-jwt-sub","claim_name":"sub"},
                                         {"header_name":"x-jwt-aud","claim_name":"aud"}]
                },
                "other": extra_provider
            },
            "rules": [
                {"match": {"prefix": "/healthz"}},
                {"match": {"prefix": "/any"}, "requires": {"requires_any": ["other", "main"]}},
                {"match": {"prefix": "/api"}, "requires": {"provider_name": "main"}}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

fn local_other() -> serde_json::Value {
    json!({"local_jwks": {"inline_string": json!({"keys":[jwk(Algorithm::HS256)]}).to_string()},
           "from_headers": [{"name":"x-other-token"}], "forward": true})
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct World {
    config: Config,
    keys: KeyStore,
    cache: TokenCache,
}

impl World {
    fn new(config: Config) -> Self {
        let keys = KeyStore::new(&config);
        World {
            config,
            keys,
            cache: TokenCache::new(16),
        }
    }

    fn run(&mut self, headers: &[(&str, &str)], now: i64) -> (Outcome, auth::CacheUse) {
        let mut ctx = Authenticator {
            config: &self.config,
            keys: &self.keys,
            cache: &mut self.cache,
            now,
            may_fetch_keys: true,
        };
        authenticate(&mut ctx, &h(headers))
    }
}

#[test]
fn unmatched_and_bypass_paths_need_no_token() {
    let mut w = World::new(config(local_other()));
    assert!(matches!(
        w.run(&[(":path", "/healthz")], NOW).0,
        Outcome::Unprotected
    ));
    assert!(matches!(
        w.run(&[(":path", "/elsewhere")], NOW).0,
        Outcome::Unprotected
    ));
    assert!(matches!(
        w.run(&[(":path", "/api/x")], NOW).0,
        Outcome::Denied(Reason::TokenMissing)
    ));
    assert!(matches!(
        w.run(&[(":path", "/api"), ("authorization", "Bearer ")], NOW)
            .0,
        Outcome::Denied(Reason::TokenMalformed)
    ));
    assert!(matches!(
        w.run(&[(":path", "/api"), ("authorization", "Bearer x.y")], NOW)
            .0,
        Outcome::Denied(Reason::TokenMalformed)
    ));
}

#[test]
fn allowed_request_forwards_claims_and_drops_the_token() {
    let mut w = World::new(config(local_other()));
    let tok = token(Algorithm::ES256, &claims());
    let headers = h(&[
        (":path", "/api/x"),
        ("authorization", &format!("Bearer {tok}")),
        ("x-jwt-sub", "spoofed"),
    ]);
    let (outcome, used) = w.run(
        &[
            (":path", "/api/x"),
            ("authorization", &format!("Bearer {tok}")),
        ],
        NOW,
    );
    assert_eq!(used, auth::CacheUse { hits: 0, misses: 1 });
    let Outcome::Allowed(allowed) = outcome else {
        panic!("{outcome:?}")
    };
    let fwd = forward::forwarding(&w.config, Some(&allowed), &headers);
    assert!(
        fwd.remove.contains(&"x-jwt-sub".to_string()),
        "spoofed claim header removed"
    );
    assert!(
        fwd.remove.contains(&"authorization".to_string()),
        "token removed"
    );
    assert!(fwd.set.contains(&("x-jwt-sub".into(), "alice".into())));
    assert!(fwd
        .set
        .contains(&("x-jwt-aud".into(), "api.example".into())));

    // Unprotected requests still lose spoofed claim headers.
    let fwd = forward::forwarding(&w.config, None, &headers);
    assert_eq!(fwd.set, vec![]);
    assert!(fwd.remove.contains(&"x-jwt-sub".to_string()));
    assert!(!fwd.remove.contains(&"authorization".to_string()));
}

#[test]
fn token_in_query_or_cookie_is_removed_from_there() {
    let mut w = World::new(config(local_other()));
    let tok = token(Algorithm::EdDSA, &claims());
    let path = format!("/api/x?a=1&access_token={tok}");
    let headers = h(&[(":path", &path)]);
    let Outcome::Allowed(allowed) = w.run(&[(":path", &path)], NOW).0 else {
        panic!()
    };
    let fwd = forward::forwarding(&w.config, Some(&allowed), &headers);
    assert!(fwd.set.contains(&(":path".into(), "/api/x?a=1".into())));

    let cookie = format!("theme=dark; session={tok}");
    let headers = h(&[(":path", "/api"), ("cookie", &cookie)]);
    let Outcome::Allowed(allowed) = w.run(&[(":path", "/api"), ("cookie", &cookie)], NOW).0 else {
        panic!()
    };
    let fwd = forward::forwarding(&w.config, Some(&allowed), &headers);
    assert!(fwd.set.contains(&("cookie".into(), "theme=dark".into())));
}

#[test]
fn forward_true_keeps_the_token() {
    let mut w = World::new(config(local_other()));
    let tok = token(Algorithm::HS256, &claims());
    let headers = h(&[(":path", "/any"), ("x-other-token", &tok)]);
    let Outcome::Allowed(allowed) = w.run(&[(":path", "/any"), ("x-other-token", &tok)], NOW).0
    else {
        panic!()
    };
    assert_eq!(w.config.providers[allowed.tokens[0].provider].name, "other");
    let fwd = forward::forwarding(&w.config, Some(&allowed), &headers);
    assert!(!fwd.remove.contains(&"x-other-token".to_string()));
}

#[test]
fn requires_any_accepts_either_provider_and_reports_the_first_failure() {
    let mut w = World::new(config(local_other()));
    let tok = token(Algorithm::ES256, &claims());
    let bearer = format!("Bearer {tok}");
    assert!(matches!(
        w.run(&[(":path", "/any"), ("authorization", &bearer)], NOW)
            .0,
        Outcome::Allowed(_)
    ));
    let mut expired = claims();
    expired["exp"] = json!(NOW - 1000);
    let bad = format!("Bearer {}", token(Algorithm::ES256, &expired));
    assert!(matches!(
        w.run(&[(":path", "/any"), ("authorization", &bad)], NOW).0,
        Outcome::Denied(Reason::TokenExpired)
    ));
    assert!(matches!(
        w.run(&[(":path", "/any")], NOW).0,
        Outcome::Denied(Reason::TokenMissing)
    ));
}

#[test]
fn cache_skips_the_signature_but_not_the_expiry() {
    let mut w = World::new(config(local_other()));
    let bearer = format!("Bearer {}", token(Algorithm::RS256, &claims()));
    let req = [(":path", "/api"), ("authorization", bearer.as_str())];
    assert!(matches!(
        w.run(&req, NOW),
        (Outcome::Allowed(_), auth::CacheUse { hits: 0, misses: 1 })
    ));
    assert!(matches!(
        w.run(&req, NOW),
        (Outcome::Allowed(_), auth::CacheUse { hits: 1, misses: 0 })
    ));
    // Later, the same cached token has expired.
    assert!(matches!(
        w.run(&req, NOW + 3600),
        (
            Outcome::Denied(Reason::TokenExpired),
            auth::CacheUse { hits: 1, .. }
        )
    ));
    // A tampered token never hits the cache.
    let tampered = format!("{}x", bearer);
    assert!(matches!(
        w.run(&[(":path", "/api"), ("authorization", &tampered)], NOW)
            .0,
        Outcome::Denied(_)
    ));
}

#[test]
fn remote_keys_are_fetched_on_unknown_kid_with_a_rate_limit() {
    let remote = json!({"remote_jwks": {"cluster":"idp","path":"/jwks"}, "from_headers":[{"name":"x-other-token"}]});
    let mut w = World::new(config(remote));
    let idx = w.config.provider_index("other").unwrap();
    let tok = token(Algorithm::ES256, &claims());
    let req = [(":path", "/any"), ("x-other-token", tok.as_str())];
    // No keys yet: ask for them.
    assert!(matches!(w.run(&req, NOW).0, Outcome::NeedKeys(i) if i == idx));
    assert!(w.keys.try_start_on_demand(idx, 1_000));
    let jwks = json!({"keys":[jwk(Algorithm::ES256)]}).to_string();
    assert_eq!(
        w.keys
            .finish_fetch(idx, Ok(jwks.as_bytes()), 600_000, 1_000),
        FetchResult::Updated
    );
    assert!(matches!(w.run(&req, NOW).0, Outcome::Allowed(_)));
    // Same document again: unchanged, cache stays valid.
    assert_eq!(
        w.keys
            .finish_fetch(idx, Ok(jwks.as_bytes()), 600_000, 2_000),
        FetchResult::Unchanged
    );
    // A token with a kid the set lacks asks again, but the store rate-limits on-demand fetches.
    let rotated = token_with(
        Algorithm::ES256,
        &json!({"alg":"ES256","kid":"new"}),
        &claims(),
    );
    let req = [(":path", "/any"), ("x-other-token", rotated.as_str())];
    assert!(matches!(w.run(&req, NOW).0, Outcome::NeedKeys(_)));
    assert!(!w
        .keys
        .try_start_on_demand(idx, 1_000 + ON_DEMAND_MIN_INTERVAL_MS - 1));
    assert!(w
        .keys
        .try_start_on_demand(idx, 1_000 + ON_DEMAND_MIN_INTERVAL_MS));
    // A failed refresh keeps the last good keys.
    assert_eq!(
        w.keys
            .finish_fetch(idx, Err(FetchError::Status(500)), 600_000, 20_000),
        FetchResult::Failed(FetchError::Status(500))
    );
    let tok = token(Algorithm::ES256, &claims());
    assert!(matches!(
        w.run(&[(":path", "/any"), ("x-other-token", tok.as_str())], NOW)
            .0,
        Outcome::Allowed(_)
    ));
}

#[test]
fn remote_jwks_never_supplies_hmac_secrets() {
    let remote = json!({"remote_jwks": {"cluster":"idp","path":"/jwks"}});
    let mut w = World::new(config(remote));
    let idx = w.config.provider_index("other").unwrap();
    let only_oct = json!({"keys":[jwk(Algorithm::HS256)]}).to_string();
    let result = w
        .keys
        .finish_fetch(idx, Ok(only_oct.as_bytes()), 600_000, 0);
    let FetchResult::Failed(FetchError::Document(JwksError::NoUsableKey(Some(first)))) = result
    else {
        panic!("{result:?}")
    };
    assert_eq!(first.error, JwkError::SymmetricFromRemote);
    let mixed = json!({"keys":[jwk(Algorithm::HS256), jwk(Algorithm::ES256)]}).to_string();
    assert_eq!(
        w.keys.finish_fetch(idx, Ok(mixed.as_bytes()), 600_000, 0),
        FetchResult::Updated
    );
    let set = w.keys.keys(&w.config, idx).unwrap();
    assert_eq!(set.candidates(Algorithm::HS256, None).count(), 0);
    assert_eq!(set.candidates(Algorithm::ES256, None).count(), 1);
}

#[test]
fn keys_without_kid_serve_tokens_with_a_kid() {
    let mut k = jwk(Algorithm::EdDSA);
    k.as_object_mut().unwrap().remove("kid");
    let set = warden_core::jwk::KeySet::parse(&json!({"keys":[k]}).to_string()).unwrap();
    assert_eq!(
        set.candidates(Algorithm::EdDSA, Some("anything")).count(),
        1
    );
    let tok = token(Algorithm::EdDSA, &claims());
    let req = warden_core::token::Requirements::default();
    assert!(warden_core::token::verify(&tok, &req, &set, NOW).is_ok());
}

#[test]
fn requests_may_join_a_fetch_in_flight_a_bounded_number_of_times() {
    let remote = json!({"remote_jwks": {"cluster":"idp","path":"/jwks"}});
    let mut w = World::new(config(remote));
    let idx = w.config.provider_index("other").unwrap();
    // The scheduled first fetch is out; requests arriving meanwhile fetch too and wait.
    assert_eq!(w.keys.take_due(0), vec![idx]);
    for _ in 0..warden_core::keystore::MAX_JOINED_FETCHES {
        assert!(w.keys.try_start_on_demand(idx, 10));
    }
    assert!(!w.keys.try_start_on_demand(idx, 10));
    // Once the round is over, the rate limit for new rounds applies as before.
    let jwks = json!({"keys":[jwk(Algorithm::ES256)]}).to_string();
    assert_eq!(
        w.keys.finish_fetch(idx, Ok(jwks.as_bytes()), 600_000, 20),
        FetchResult::Updated
    );
    assert!(
        w.keys.try_start_on_demand(idx, 30),
        "no on-demand round yet"
    );
    w.keys.finish_fetch(idx, Ok(jwks.as_bytes()), 600_000, 40);
    assert!(!w.keys.try_start_on_demand(idx, 50));
}

#[test]
fn scheduled_refresh_is_due_after_cache_duration() {
    let remote = json!({"remote_jwks": {"cluster":"idp","path":"/jwks"}});
    let mut w = World::new(config(remote));
    let idx = w.config.provider_index("other").unwrap();
    assert_eq!(w.keys.take_due(0), vec![idx]);
    assert_eq!(w.keys.take_due(0), Vec::<usize>::new(), "in flight");
    let jwks = json!({"keys":[jwk(Algorithm::ES256)]}).to_string();
    w.keys.finish_fetch(idx, Ok(jwks.as_bytes()), 600_000, 0);
    assert!(w.keys.take_due(599_999).is_empty());
    assert_eq!(w.keys.take_due(600_000), vec![idx]);
}

#[test]
fn check_request_from_claims() {
    let mut c = claims();
    c["sid"] = json!("s1");
    c["ver"] = json!(3);
    let claims_map = c.as_object().unwrap().clone();
    let req = protocol::check_request(&claims_map).unwrap();
    assert_eq!(
        (
            req.sub.as_str(),
            req.jti.as_deref(),
            req.sid.as_deref(),
            req.ver
        ),
        ("alice", Some("j1"), Some("s1"), Some(3))
    );
    assert_eq!((req.iat, req.exp), (Some(NOW - 10), NOW + 600));
    for missing in ["sub", "jti"] {
        let mut m = claims_map.clone();
        m.remove(missing);
        assert_eq!(
            protocol::check_request(&m),
            Err(Reason::ClaimMissing),
            "{missing}"
        );
    }
    let mut m = claims_map.clone();
    m.insert("jti".into(), json!("x".repeat(257)));
    assert_eq!(protocol::check_request(&m), Err(Reason::TokenMalformed));
}

#[test]
fn verifier_verdicts() {
    assert_eq!(
        protocol::verifier_verdict(Some(200), br#"{"allow":true}"#),
        Verdict::Allow
    );
    assert_eq!(
        protocol::verifier_verdict(Some(200), br#"{"allow":false,"reason":"revoked"}"#),
        Verdict::Deny(Reason::Revoked)
    );
    assert_eq!(
        protocol::verifier_verdict(Some(200), br#"{"allow":false,"reason":"session_missing"}"#),
        Verdict::Deny(Reason::SessionMissing)
    );
    assert_eq!(
        protocol::verifier_verdict(Some(200), br#"{"allow":false,"reason":"brand_new"}"#),
        Verdict::Deny(Reason::Revoked)
    );
    assert_eq!(
        protocol::verifier_verdict(Some(200), br#"{"allow":"yes"}"#),
        Verdict::Failure
    );
    for odd in ["token_missing", "verifier_unavailable"] {
        let body = format!(r#"{{"allow":false,"reason":"{odd}"}}"#);
        assert_eq!(
            protocol::verifier_verdict(Some(200), body.as_bytes()),
            Verdict::Deny(Reason::Revoked),
            "{odd}"
        );
    }
    assert_eq!(
        protocol::verifier_verdict(Some(200), b"garbage"),
        Verdict::Failure
    );
    assert_eq!(
        protocol::verifier_verdict(Some(503), br#"{"allow":true}"#),
        Verdict::Failure
    );
    assert_eq!(protocol::verifier_verdict(None, b""), Verdict::Failure);
}

/// Finding: only `x-jwt-sub` was removed; `x_jwt_sub` reaches CGI-style upstreams as
/// `HTTP_X_JWT_SUB`.
#[test]
fn claim_headers_are_removed_in_every_spelling() {
    let w = World::new(config(local_other()));
    let headers = h(&[
        (":path", "/healthz"),
        ("x_jwt_sub", "admin"),
        ("X_JWT_AUD", "evil"),
        ("x-jwt-sub-extra", "kept"),
    ]);
    let fwd = forward::forwarding(&w.config, None, &headers);
    assert!(fwd.remove.contains(&"x_jwt_sub".to_string()), "{fwd:?}");
    assert!(fwd.remove.contains(&"X_JWT_AUD".to_string()), "{fwd:?}");
    assert!(!fwd.remove.contains(&"x-jwt-sub-extra".to_string()));
}

/// Finding: only the source that held the verified token was stripped, so a second, unverified
/// token in another configured source reached the upstream.
#[test]
fn unverified_tokens_in_the_rules_other_sources_are_removed() {
    let mut w = World::new(config(local_other()));
    let tok = token(Algorithm::EdDSA, &claims());
    let path = "/api/x?a=1&access_token=forged&b=2";
    let pairs = [
        (":path", path),
        ("authorization", &format!("Bearer {tok}") as &str),
        ("cookie", "theme=dark; session=forged"),
    ];
    let Outcome::Allowed(allowed) = w.run(&pairs, NOW).0 else {
        panic!()
    };
    let fwd = forward::forwarding(&w.config, Some(&allowed), &h(&pairs));
    assert!(fwd.remove.contains(&"authorization".to_string()));
    assert!(
        fwd.set.contains(&(":path".into(), "/api/x?a=1&b=2".into())),
        "{fwd:?}"
    );
    assert!(
        fwd.set.contains(&("cookie".into(), "theme=dark".into())),
        "{fwd:?}"
    );

    // With forward: true the verified token stays, but a token in another provider's source of
    // the same rule (`main`'s authorization header on /any) is taken out.
    let other = token(Algorithm::HS256, &claims());
    let pairs = [
        (":path", "/any"),
        ("x-other-token", &other as &str),
        ("authorization", "Bearer forged"),
    ];
    let Outcome::Allowed(allowed) = w.run(&pairs, NOW).0 else {
        panic!()
    };
    assert_eq!(w.config.providers[allowed.tokens[0].provider].name, "other");
    let fwd = forward::forwarding(&w.config, Some(&allowed), &h(&pairs));
    assert!(
        !fwd.remove.contains(&"x-other-token".to_string()),
        "{fwd:?}"
    );
    assert!(fwd.remove.contains(&"authorization".to_string()), "{fwd:?}");
}

/// Finding: two `session` cookies, or `session =…`, were not treated as copies of the token.
#[test]
fn duplicate_cookies_are_refused() {
    let mut w = World::new(config(local_other()));
    let tok = token(Algorithm::EdDSA, &claims());
    for cookie in [
        format!("session={tok}; session=forged"),
        format!("session =forged; session={tok}"),
        format!("session={tok}; %73ession=forged"),
    ] {
        let outcome = w.run(&[(":path", "/api"), ("cookie", &cookie)], NOW).0;
        assert!(
            matches!(outcome, Outcome::Denied(Reason::TokenMalformed)),
            "{cookie}: {outcome:?}"
        );
    }
}

/// Finding: `[{prefix /admin, requires}, {prefix /}]` let `/x/../admin`, `/./admin` and
/// `//admin` through unchecked.
#[test]
fn confused_paths_are_refused_whatever_the_rule_order() {
    let protect_one_area = Config::parse(
        &json!({
            "providers": {"main": {"local_jwks": {"inline_string": jwks_all()}}},
            "rules": [{"match": {"prefix": "/admin"}, "requires": {"provider_name": "main"}},
                      {"match": {"prefix": "/"}}]
        })
        .to_string(),
    )
    .unwrap();
    let mut w = World::new(protect_one_area);
    for path in [
        "/x/../admin",
        "/./admin",
        "//admin",
        "/;/admin",
        "/%61dmin",
        "/admin/../x",
    ] {
        let outcome = w.run(&[(":path", path)], NOW).0;
        assert!(
            matches!(outcome, Outcome::Denied(Reason::PathRejected)),
            "{path}: {outcome:?}"
        );
    }
    assert!(matches!(
        w.run(&[(":path", "/admin;x=1")], NOW).0,
        Outcome::Denied(Reason::TokenMissing)
    ));
    assert!(matches!(
        w.run(&[(":path", "/pub/x")], NOW).0,
        Outcome::Unprotected
    ));
}

/// With `requires_any`, one provider's deny must not hide a later provider's need for its keys:
/// a token for a freshly rotated remote key is only refused after that provider fetched.
#[test]
fn requires_any_fetches_remote_keys_even_after_an_earlier_provider_denied() {
    let config = local_and_remote_config(json!({}));
    let keys = KeyStore::new(&config);
    let other = config.provider_index("other").unwrap();
    let tok = token_with(
        Algorithm::ES256,
        &json!({"alg": "ES256", "kid": "rotated"}),
        &claims(),
    );
    let bearer = format!("Bearer {tok}");
    let outcome = authenticate_once(
        &config,
        &keys,
        &[(":path", "/x"), ("authorization", &bearer)],
    );
    assert!(
        matches!(outcome, Outcome::NeedKeys(i) if i == other),
        "{outcome:?}"
    );
}

/// A fetch whose answer never arrives (Envoy cancels a request context's HTTP call when the
/// client goes away) must not leave the provider "in flight" forever: scheduled refreshes and
/// on-demand fetches go on.
#[test]
fn a_fetch_that_never_answers_does_not_block_refreshes_forever() {
    let config = local_and_remote_config(json!({}));
    let mut keys = KeyStore::new(&config);
    let other = config.provider_index("other").unwrap();
    assert_eq!(keys.take_due(0), vec![other]);
    let jwks = json!({"keys": [jwk(Algorithm::ES256)]}).to_string();
    keys.finish_fetch(other, Ok(jwks.as_bytes()), 600_000, 0);
    // An unknown kid starts an on-demand fetch from a request; the request is then cancelled.
    assert!(keys.try_start_on_demand(other, 1_000));
    assert!(keys.in_flight(other, 1_500));
    // Long after any timeout, the scheduled refresh runs again.
    assert_eq!(keys.take_due(600_000), vec![other]);
    // While that fetch may still answer, it is in flight: requests may only join it, a bounded
    // number of times (the rate limit alone would allow a new round).
    assert!(keys.in_flight(other, 600_500));
    for _ in 0..warden_core::keystore::MAX_JOINED_FETCHES {
        assert!(keys.try_start_on_demand(other, 600_500));
    }
    assert!(!keys.try_start_on_demand(other, 600_500));
    // And that one, if lost too, does not block on-demand fetches forever.
    assert!(keys.try_start_on_demand(other, 10_000_000));
}
