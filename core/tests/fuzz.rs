#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Deterministic mutation fuzzing of the parsers (stable Rust, runs in `cargo test`): no
//! mutation of a valid token verifies, no mutation of a key set yields a key that accepts
//! another key's signatures, and a mutated configuration compiles or names what is wrong.

mod common;

use common::*;
use warden_core::config::Config;
use warden_core::jwk::{Jwk, KeyMaterial, KeySet};
use warden_core::token::{self, Requirements};
use warden_core::Algorithm;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \"{}:,\x00\xff";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(3) {
        match rng.below(4) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = ALPHABET[rng.below(ALPHABET.len())];
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out.remove(i);
            }
            2 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, ALPHABET[rng.below(ALPHABET.len())]);
            }
            _ if out.len() > 2 => {
                let a = rng.below(out.len());
                let b = rng.below(out.len());
                let (lo, hi) = (a.min(b), a.max(b));
                out.drain(lo..hi);
            }
            _ => {}
        }
    }
    out
}

#[test]
fn mutated_tokens_never_verify_and_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let set = KeySet::parse(&jwks_all()).unwrap();
    let req = Requirements {
        issuer: Some("https://issuer.example".into()),
        ..Requirements::default()
    };
    for alg in [
        Algorithm::HS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
    ] {
        let original = token(alg, &claims());
        assert!(token::verify(&original, &req, &set, NOW).is_ok());
        let rounds = if alg == Algorithm::RS256 { 300 } else { 1500 };
        for _ in 0..rounds {
            let bytes = mutate(&mut rng, original.as_bytes());
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            if text == original {
                continue;
            }
            assert!(
                token::verify(text, &req, &set, NOW).is_err(),
                "mutation verified: {text}"
            );
        }
    }
}

/// The key a parsed key is: its SubjectPublicKeyInfo, or the secret of an HMAC key.
fn identity(key: &Jwk) -> Vec<u8> {
    match &key.material {
        KeyMaterial::Hmac(secret) => secret.clone(),
        _ => key.spki.to_vec(),
    }
}

/// A mutated key set either is refused as a whole (a `JwksError`) or yields keys of which each
/// verifies an original signature only if it is the very key that made it (same SPKI, or same
/// HMAC secret): a mutation never turns into a key that accepts someone else's signatures.
#[test]
fn mutated_jwks_keys_verify_only_their_own_signatures() {
    let mut rng = Rng(0x5eed_0000_0000_0002);
    let jwks = jwks_all();
    let original = KeySet::parse(&jwks).unwrap();
    let algs = [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    // Each algorithm's original signature, and the identity of the key that made it.
    let signed: Vec<(Algorithm, String, Vec<u8>, Vec<u8>)> = algs
        .iter()
        .map(|&alg| {
            let jws = token(alg, &claims());
            let (input, signature) = jws.rsplit_once('.').unwrap();
            let signature = warden_core::b64::decode(signature).unwrap();
            let signer = original
                .keys
                .iter()
                .find(|k| k.fits(alg) && k.material.verify(alg, input.as_bytes(), &signature))
                .unwrap();
            (alg, input.to_owned(), signature, identity(signer))
        })
        .collect();
    let (mut parsed, mut refused, mut changed_keys) = (0, 0, 0);
    for _ in 0..2000 {
        let bytes = mutate(&mut rng, jwks.as_bytes());
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let set = match KeySet::parse(text) {
            Ok(set) => set,
            Err(why) => {
                refused += 1;
                assert!(!why.to_string().is_empty());
                continue;
            }
        };
        parsed += 1;
        assert!(
            set.keys.len() + set.skipped.len() <= algs.len() + 1,
            "{text}"
        );
        for key in &set.keys {
            let own = identity(key);
            if !signed.iter().any(|(.., signer)| *signer == own) {
                changed_keys += 1;
            }
            for (alg, input, signature, signer) in &signed {
                // The same key bytes are the same key: only a changed key needs the check.
                if !key.fits(*alg) || *signer == own {
                    continue;
                }
                assert!(
                    !key.material.verify(*alg, input.as_bytes(), signature),
                    "{alg}: a changed key {:?} of the mutated set verifies: {text}",
                    key.kid
                );
            }
        }
    }
    // The run exercised all three outcomes: sets refused, sets kept, keys that changed.
    assert!(
        parsed > 100 && refused > 100 && changed_keys > 0,
        "{parsed} {refused} {changed_keys}"
    );
}

/// A mutated configuration either compiles into a model whose rules name existing providers
/// (and whose claim headers are listed once each), or is refused with a reason and, whenever
/// the text is still a JSON object, the path of the field at fault.
#[test]
fn mutated_configs_compile_or_name_the_field() {
    let mut rng = Rng(0x5eed_0000_0000_0003);
    let config = serde_json::json!({
        "providers": {"main": {"issuer": "i", "local_jwks": {"inline_string": jwks_all()},
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}],
        "verifier": {"cluster": "v", "failure_mode": "deny"}
    })
    .to_string();
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..2000 {
        let bytes = mutate(&mut rng, config.as_bytes());
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        match Config::parse(text) {
            Ok(compiled) => {
                accepted += 1;
                for rule in &compiled.rules {
                    assert!(rule
                        .requires
                        .iter()
                        .flat_map(|r| r.named_providers())
                        .all(|i| i < compiled.providers.len()));
                }
                let mut names = compiled.claim_header_names.clone();
                names.sort();
                names.dedup();
                assert_eq!(names, compiled.claim_header_names);
            }
            Err(e) => {
                refused += 1;
                assert!(!e.reason.is_empty(), "{text}");
                // Wherever the document is still a JSON object, the error names the field.
                let object = serde_json::from_str::<serde_json::Value>(text)
                    .is_ok_and(|doc| doc.is_object());
                assert!(!object || !e.path.is_empty(), "{e} for {text}");
                assert!(e.to_string().starts_with(&e.path));
            }
        }
    }
    // Some mutations (inside string values) stay valid; most are refused.
    assert!(accepted > 0 && refused > accepted, "{accepted} {refused}");
}
