#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The kit against two independent verifiers: warden-core's (what the filter runs) and
//! RustCrypto's (`verify`). A kit that signs wrongly would make every other test meaningless.

use serde_json::{json, Value};
use warden_core::jwk::KeySet;
use warden_core::token::{self, Requirements};
use warden_core::Reason;
use warden_testkit::hostile;
use warden_testkit::verify::{verify_signature, verify_token};
use warden_testkit::{jwks_of, keys, other_keys, Algorithm, Keys};

const NOW: i64 = 1_800_000_000;

fn claims() -> Value {
    json!({"sub": "alice", "iat": NOW - 10, "exp": NOW + 600})
}

fn core_verdict(token: &str, keys: &Keys) -> Result<(), Reason> {
    let set = KeySet::parse(&keys.jwks().to_string()).unwrap();
    token::verify(token, &Requirements::default(), &set, NOW).map(|_| ())
}

#[test]
fn every_algorithm_signs_tokens_both_verifiers_accept() {
    for alg in Algorithm::ALL {
        let token = keys().sign(alg, &claims());
        assert_eq!(core_verdict(&token, keys()), Ok(()), "{alg}");
        let (header, claims) = verify_token(&token, &keys().jwk(alg)).unwrap();
        assert_eq!(header["alg"], alg.name());
        assert_eq!(header["kid"], warden_testkit::kid(alg));
        assert_eq!(claims["sub"], "alice");
        // Under the other key set's key the same token fails in both.
        assert_eq!(
            core_verdict(&token, other_keys()),
            Err(Reason::SignatureInvalid),
            "{alg}"
        );
        assert!(
            verify_token(&token, &other_keys().jwk(alg)).is_err(),
            "{alg}"
        );
    }
}

#[test]
fn keys_and_signatures_are_deterministic() {
    let again = Keys::from_seed_with_rsa("main", &keys().rsa);
    for alg in Algorithm::ALL {
        assert_eq!(again.jwk(alg), keys().jwk(alg), "{alg}");
        assert_eq!(
            again.sign(alg, &claims()),
            keys().sign(alg, &claims()),
            "{alg}"
        );
    }
    let fresh = Keys::from_seed_with_rsa("fresh", &keys().rsa);
    for alg in [
        Algorithm::HS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        assert_ne!(fresh.jwk(alg), keys().jwk(alg), "{alg}");
    }
    assert_ne!(
        other_keys().jwk(Algorithm::RS256),
        keys().jwk(Algorithm::RS256)
    );
}

#[test]
fn private_jwks_hold_the_public_members_and_the_private_ones() {
    for alg in [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::RS256,
    ] {
        let private = keys().private_jwk(alg);
        let public = keys().jwk(alg);
        for (name, value) in public.as_object().unwrap() {
            assert_eq!(&private[name], value, "{alg} {name}");
        }
        assert!(private["d"].is_string(), "{alg}");
        assert_eq!(private["alg"], alg.name());
    }
    let rsa = keys().private_jwk(Algorithm::RS256);
    for name in ["p", "q", "dp", "dq", "qi"] {
        assert!(rsa[name].is_string(), "{name}");
    }
}

#[test]
fn hmac_secrets_have_the_hash_length_and_jwks_one_key_per_kind() {
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        assert_eq!(keys().hmac_secret(alg).len(), alg.min_hmac_key_bytes());
    }
    let kids: Vec<Value> = keys().jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(
        kids,
        ["hs256", "hs384", "hs512", "rsa", "p256", "p384", "p521", "ed25519"].map(|k| json!(k))
    );
}

#[test]
fn the_independent_verifier_refuses_what_it_should() {
    for alg in Algorithm::ALL {
        let jwk = keys().jwk(alg);
        let signature = keys().signature(alg, b"input");
        assert_eq!(verify_signature(&jwk, alg, b"input", &signature), Ok(()));
        assert!(
            verify_signature(&jwk, alg, b"inpuT", &signature).is_err(),
            "{alg}"
        );
        let mut flipped = signature.clone();
        flipped[0] ^= 1;
        assert!(
            verify_signature(&jwk, alg, b"input", &flipped).is_err(),
            "{alg}"
        );
        assert!(verify_signature(&jwk, alg, b"input", &[]).is_err(), "{alg}");
    }
}

#[test]
fn hostile_tokens_get_the_reason_their_name_promises() {
    let k = keys();
    let good = k.sign(Algorithm::ES256, &claims());
    let evil_claims = json!({"sub": "admin", "exp": NOW + 600});
    let cases: Vec<(String, Reason)> = vec![
        (
            hostile::alg_none("none", &claims()),
            Reason::AlgorithmNotAllowed,
        ),
        (
            hostile::alg_none("nOnE", &claims()),
            Reason::AlgorithmNotAllowed,
        ),
        (
            hostile::with_claims(&good, &evil_claims),
            Reason::SignatureInvalid,
        ),
        (hostile::without_signature(&good), Reason::SignatureInvalid),
        (hostile::flip_signature_bit(&good), Reason::SignatureInvalid),
        (
            hostile::with_signature(&good, &[0u8; 64]),
            Reason::SignatureInvalid,
        ),
        (
            k.wrong_alg(Algorithm::ES256, "ES384", &claims()),
            Reason::KeyNotFound,
        ),
        (
            k.wrong_alg(Algorithm::ES256, "HS1024", &claims()),
            Reason::AlgorithmNotAllowed,
        ),
        (
            k.with_crit(Algorithm::ES256, json!(["exp"]), &claims()),
            Reason::CritUnsupported,
        ),
        (
            hostile::hmac_with_secret(
                Algorithm::HS256,
                b"not the secret, but long enough to be one",
                &warden_testkit::sign::header(Algorithm::HS256),
                &claims(),
            ),
            Reason::SignatureInvalid,
        ),
    ];
    for (token, reason) in cases {
        assert_eq!(core_verdict(&token, k), Err(reason), "{token}");
    }
    for token in hostile::bad_base64(&good)
        .into_iter()
        .chain(hostile::bad_segment_counts(&good))
    {
        assert_eq!(
            core_verdict(&token, k),
            Err(Reason::TokenMalformed),
            "{token}"
        );
    }
    // Raw parts need not be JSON, and signing them still works.
    let raw = k.sign_parts(Algorithm::EdDSA, br#"{"alg":"EdDSA","alg":"none"}"#, b"{}");
    assert_eq!(hostile::segments(&raw).len(), 3);
    let big = k.oversized(Algorithm::ES256, &claims(), 9000);
    assert!(big.len() >= 9000);
    assert_eq!(core_verdict(&big, k), Err(Reason::TokenTooLarge));
    assert_eq!(
        jwks_of([k.jwk(Algorithm::EdDSA)])["keys"][0]["kid"],
        "ed25519"
    );
}
