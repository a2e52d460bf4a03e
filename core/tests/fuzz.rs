#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Deterministic mutation fuzzing of the parsers (stable Rust, runs in `cargo test`):
//! no input may panic, and no mutation of a valid token may verify.

mod common;

use common::*;
use warden_core::config::Config;
use warden_core::jwk::KeySet;
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

#[test]
fn mutated_jwks_and_configs_never_panic() {
    let mut rng = Rng(0x5eed_0000_0000_0002);
    let jwks = jwks_all();
    let config = serde_json::json!({
        "providers": {"main": {"issuer": "i", "local_jwks": {"inline_string": jwks.clone()},
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}],
        "verifier": {"cluster": "v", "failure_mode": "deny"}
    })
    .to_string();
    let mut accepted = 0;
    for _ in 0..2000 {
        let j = mutate(&mut rng, jwks.as_bytes());
        if let Ok(text) = std::str::from_utf8(&j) {
            let _ = KeySet::parse(text);
        }
        let c = mutate(&mut rng, config.as_bytes());
        if let Ok(text) = std::str::from_utf8(&c) {
            if Config::parse(text).is_ok() {
                accepted += 1;
            }
        }
    }
    // Some mutations (inside string values) stay valid; most are refused.
    assert!(accepted < 2000);
}
