#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Key parsing: keys that would let anyone forge a token are refused.

mod common;

use common::*;
use serde_json::json;
use warden_core::b64;
use warden_core::jwk::KeySet;
use warden_core::token::{self, Requirements};

/// An Ed25519 JWK that is a small-order point (here the identity) lets anyone forge a signature
/// that verifies; such keys are refused when the set is parsed.
#[test]
fn weak_ed25519_keys_are_refused() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&identity)}]});
    let result = KeySet::parse(&jwks.to_string());
    if let Ok(set) = result {
        // Were it accepted, this forgery (R = identity, S = 0) must still fail.
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let forged = hostile::compact(
            br#"{"alg":"EdDSA"}"#,
            json!({"sub": "admin", "exp": NOW + 60})
                .to_string()
                .as_bytes(),
            &sig,
        );
        let verdict = token::verify(&forged, &Requirements::default(), &set, NOW);
        panic!("weak key accepted; forged token verdict: {verdict:?}");
    }
}
