#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Regression tests for the findings of the adversarial review of the filter's logic: each test
//! failed before its fix.

mod common;

use common::*;
use serde_json::json;
use warden_core::auth::{authenticate, Authenticator, Outcome};
use warden_core::b64;
use warden_core::cache::TokenCache;
use warden_core::config::Config;
use warden_core::crypto::rsa::{Hash, RsaPublicKey};
use warden_core::jwk::KeySet;
use warden_core::keystore::KeyStore;
use warden_core::token::{self, Requirements};
use warden_core::{Algorithm, Reason};

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(config: &Config, keys: &KeyStore, headers: &[(&str, &str)]) -> Outcome {
    let mut cache = TokenCache::new(16);
    let mut ctx = Authenticator {
        config,
        keys,
        cache: &mut cache,
        now: NOW,
        may_fetch_keys: true,
    };
    authenticate(&mut ctx, &h(headers)).0
}

fn local_and_remote_config(extra_main: serde_json::Value) -> Config {
    let mut main = json!({
        "issuer": "https://issuer.example",
        "local_jwks": {"inline_string": jwks_all()}
    });
    for (k, v) in extra_main.as_object().unwrap() {
        main[k] = v.clone();
    }
    Config::parse(
        &json!({
            "providers": {
                "main": main,
                "other": {"remote_jwks": {"cluster": "idp", "path": "/jwks"}}
            },
            "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": ["main", "other"]}}]
        })
        .to_string(),
    )
    .unwrap()
}

/// Finding: with `requires_any`, a deny from an earlier provider hid a later provider's need to
/// fetch its keys, so a token for a freshly rotated remote key was refused without a fetch.
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
    let outcome = run(
        &config,
        &keys,
        &[(":path", "/x"), ("authorization", &bearer)],
    );
    assert!(
        matches!(outcome, Outcome::NeedKeys(i) if i == other),
        "{outcome:?}"
    );
}

/// Finding: a fetch whose answer never arrives (Envoy cancels a request context's HTTP call when
/// the client goes away) left the provider "in flight" forever: no scheduled refresh and no
/// on-demand fetch ever again in that VM.
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

/// Finding: with the token header sent twice, the first copy was verified and, with
/// `forward: true`, both reached the upstream, which may read the other (unverified) one.
#[test]
fn a_token_sent_twice_in_the_same_carrier_is_refused() {
    let config = local_and_remote_config(json!({"from_headers": [{"name": "x-token"}],
        "from_params": ["access_token"], "forward": true}));
    let keys = KeyStore::new(&config);
    let good = token(Algorithm::ES256, &claims());
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    let twice_header = run(
        &config,
        &keys,
        &[(":path", "/x"), ("x-token", &good), ("x-token", forged)],
    );
    assert!(
        matches!(twice_header, Outcome::Denied(Reason::TokenMalformed)),
        "{twice_header:?}"
    );
    let path = format!("/x?access_token={good}&access_token={forged}");
    let twice_param = run(&config, &keys, &[(":path", &path)]);
    assert!(
        matches!(twice_param, Outcome::Denied(Reason::TokenMalformed)),
        "{twice_param:?}"
    );
    // One copy is fine.
    let once = run(&config, &keys, &[(":path", "/x"), ("x-token", &good)]);
    assert!(matches!(once, Outcome::Allowed(_)), "{once:?}");
}

/// Finding: `cache_duration_seconds` was unbounded; the plugin multiplies it by 1000 (overflow:
/// a panic in a debug build, a wrapped, tiny refresh period in release).
#[test]
fn absurd_jwks_cache_duration_is_a_config_error() {
    let cfg = json!({"providers": {"p": {"remote_jwks": {"cluster": "idp", "path": "/jwks",
        "cache_duration_seconds": u64::MAX / 10}}}});
    let err = Config::parse(&cfg.to_string()).unwrap_err();
    assert_eq!(
        err.path, "providers.p.remote_jwks.cache_duration_seconds",
        "{err}"
    );
}

/// Finding: an Ed25519 JWK that is a small-order point (here the identity) was accepted, and
/// with it anyone can forge a signature that `verify` accepts.
#[test]
fn weak_ed25519_keys_are_refused() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&identity)}]});
    let result = KeySet::parse(&jwks.to_string());
    if let Ok(set) = result {
        // Were it accepted, this forgery (R = identity, S = 0) must still fail.
        let header = b64::encode(br#"{"alg":"EdDSA"}"#);
        let payload = b64::encode(
            json!({"sub": "admin", "exp": NOW + 60})
                .to_string()
                .as_bytes(),
        );
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let forged = format!("{header}.{payload}.{}", b64::encode(&sig));
        let verdict = token::verify(&forged, &Requirements::default(), &set, NOW);
        panic!("weak key accepted; forged token verdict: {verdict:?}");
    }
}

/// Finding: a no-token rule matched `/healthz/..;/admin`, which servlet containers resolve to
/// `/admin`, and paths carrying a `#`.
#[test]
fn bypass_rules_refuse_dot_segments_with_parameters_and_fragments() {
    let cfg = json!({
        "providers": {"main": {"local_jwks": {"inline_string": jwks_all()}}},
        "rules": [{"match": {"prefix": "/healthz"}},
                  {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]
    });
    let config = Config::parse(&cfg.to_string()).unwrap();
    let keys = KeyStore::new(&config);
    for path in [
        "/healthz/..;/admin",
        "/healthz/..;jsessionid=1/admin",
        "/healthz#/../admin",
    ] {
        let outcome = run(&config, &keys, &[(":path", path)]);
        assert!(
            matches!(outcome, Outcome::Denied(Reason::PathRejected)),
            "{path}: {outcome:?}"
        );
    }
    // Every reading stays under /healthz: the bypass rule applies.
    assert!(matches!(
        run(&config, &keys, &[(":path", "/healthz/.;/x")]),
        Outcome::Unprotected
    ));
    assert!(matches!(
        run(&config, &keys, &[(":path", "/healthz;v=1")]),
        Outcome::Unprotected
    ));
}

/// Not a finding (kept as a guard): the hand-written RSA verifier agrees with the `rsa` crate on
/// modulus sizes that are not multiples of 8 or 32 bits, where PSS's EM is one byte shorter.
#[test]
fn rsa_verifier_handles_odd_modulus_sizes() {
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    for bits in [2049usize, 2056, 2072, 3071] {
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
        let public = key.to_public_key();
        let ours =
            RsaPublicKey::new(&public.n().to_bytes_be(), &public.e().to_bytes_be(), 8192).unwrap();
        assert_eq!(ours.bits(), bits);
        let msg = b"header.payload";
        let pss = rsa::pss::SigningKey::<sha2::Sha256>::new(key.clone())
            .sign_with_rng(&mut rand_core::OsRng, msg)
            .to_vec();
        assert!(ours.verify_pss(Hash::Sha256, msg, &pss), "PSS {bits}");
        assert!(!ours.verify_pss(Hash::Sha256, b"other", &pss));
        let pss512 = rsa::pss::SigningKey::<sha2::Sha512>::new(key.clone())
            .sign_with_rng(&mut rand_core::OsRng, msg)
            .to_vec();
        assert!(ours.verify_pss(Hash::Sha512, msg, &pss512), "PSS512 {bits}");
        let pkcs = rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(key.clone())
            .sign(msg)
            .to_vec();
        assert!(
            ours.verify_pkcs1v15(Hash::Sha384, msg, &pkcs),
            "PKCS1 {bits}"
        );
        // The signature with a leading zero byte stripped or added is refused, not re-padded.
        let mut longer = vec![0u8];
        longer.extend_from_slice(&pkcs);
        assert!(!ours.verify_pkcs1v15(Hash::Sha384, msg, &longer));
        // s = n is refused.
        let n = public.n().to_bytes_be();
        assert!(!ours.verify_pkcs1v15(Hash::Sha384, msg, &n));
    }
}

/// Finding: a parameter name with percent-encoded characters (`access%5Ftoken`) was neither
/// counted as a second copy nor removed before forwarding; an upstream that decodes names then
/// reads that unverified value as `access_token`.
#[test]
fn percent_encoded_parameter_names_are_the_same_parameter() {
    let config = local_and_remote_config(json!({"from_params": ["access_token"]}));
    let keys = KeyStore::new(&config);
    let good = token(Algorithm::ES256, &claims());
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    let path = format!("/x?access_token={good}&access%5ftoken={forged}");
    let outcome = run(&config, &keys, &[(":path", &path)]);
    assert!(
        matches!(outcome, Outcome::Denied(Reason::TokenMalformed)),
        "{outcome:?}"
    );
    // The token alone under an encoded name is found, and removed with its encoded name.
    let path = format!("/x?a=1&access%5Ftoken={good}");
    let outcome = run(&config, &keys, &[(":path", &path)]);
    let Outcome::Allowed(allowed) = outcome else {
        panic!("{outcome:?}")
    };
    let fwd = warden_core::forward::forwarding(&config, Some(&allowed), &h(&[(":path", &path)]));
    assert_eq!(fwd.set, vec![(":path".to_string(), "/x?a=1".to_string())]);
}
