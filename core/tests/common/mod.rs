//! Core's view of the test kit: kids are the algorithm names, and `NOW` / `claims()` fit the
//! providers these tests configure.
// Each test crate uses a different part of this module.
#![allow(dead_code, unused_imports)]

use warden_core::Algorithm;
pub use warden_testkit::{hostile, keys, Keys};

/// The test RSA key (all RS*/PS* algorithms share it).
pub fn rsa_key() -> &'static rsa::RsaPrivateKey {
    &keys().rsa
}

/// Public JWK (or the `oct` secret) for `alg`'s test key, with `kid` = the algorithm name.
pub fn jwk(alg: Algorithm) -> serde_json::Value {
    keys().jwk_with_kid(alg, alg.name())
}

/// A JWKS holding one test key of most kinds (RSA under kid `RS256`, HMAC under `HS256`; not
/// P-521, whose table makes the thousands of parses in `fuzz.rs` slow in debug builds).
pub fn jwks_all() -> String {
    let keys = [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ]
    .map(jwk);
    warden_testkit::jwks_of(keys).to_string()
}

/// Compact JWS from raw header and claims JSON, signed with `alg`'s test key.
pub fn token_with(
    alg: Algorithm,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> String {
    keys().sign_with_header(alg, header, claims)
}

pub fn token(alg: Algorithm, claims: &serde_json::Value) -> String {
    token_with(
        alg,
        &serde_json::json!({"alg": alg.name(), "typ": "JWT", "kid": alg.name()}),
        claims,
    )
}

pub const NOW: i64 = 1_700_000_000;

pub fn claims() -> serde_json::Value {
    serde_json::json!({"iss":"https://issuer.example","aud":"api.example","sub":"alice","jti":"j1",
        "iat": NOW - 10, "exp": NOW + 600})
}

/// Header pairs as the filter's host hands them over.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One request through `authenticate` at [`NOW`], with a fresh token cache.
pub fn authenticate_once(
    config: &warden_core::config::Config,
    keys: &warden_core::keystore::KeyStore,
    pairs: &[(&str, &str)],
) -> warden_core::auth::Outcome {
    let mut cache = warden_core::cache::TokenCache::new(16);
    let mut ctx = warden_core::auth::Authenticator {
        config,
        keys,
        cache: &mut cache,
        now: NOW,
        may_fetch_keys: true,
    };
    warden_core::auth::authenticate(&mut ctx, &headers(pairs)).0
}

/// Provider `main` (local keys of every kind, `extra_main` merged in) and provider `other`
/// (remote keys); `/` accepts either, `main` first.
pub fn local_and_remote_config(extra_main: serde_json::Value) -> warden_core::config::Config {
    let mut main = serde_json::json!({
        "issuer": "https://issuer.example",
        "local_jwks": {"inline_string": jwks_all()}
    });
    if let (Some(main), Some(extra)) = (main.as_object_mut(), extra_main.as_object()) {
        main.extend(extra.clone());
    }
    let config = serde_json::json!({
        "providers": {
            "main": main,
            "other": {"remote_jwks": {"cluster": "idp", "path": "/jwks"}}
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": ["main", "other"]}}]
    });
    warden_core::config::Config::parse(&config.to_string()).expect("test configuration")
}
