#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Tokens minted by an independent implementation (PyJWT + cryptography, see
//! `data/interop/make_tokens.py`) and the RFC 8037 Ed25519 example verify with warden-core.

use serde_json::{json, Value};
use warden_core::jwk::KeySet;
use warden_core::token::{self, Requirements};
use warden_core::{Algorithm, Reason};

fn fixture() -> Value {
    let path = format!(
        "{}/tests/data/interop/pyjwt.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn pyjwt_tokens_verify_for_every_algorithm() {
    let fx = fixture();
    let now = fx["now"].as_i64().unwrap();
    let req = Requirements {
        issuer: Some("https://issuer.example".into()),
        audiences: vec!["api.example".into()],
        ..Requirements::default()
    };
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), Algorithm::ALL.len());
    let all_keys: Vec<Value> = cases.iter().map(|c| c["jwk"].clone()).collect();
    let set = KeySet::parse(&json!({ "keys": all_keys }).to_string()).unwrap();
    for case in cases {
        let tok = case["token"].as_str().unwrap();
        let claims = token::verify(tok, &req, &set, now)
            .unwrap_or_else(|r| panic!("{} token refused: {r}", case["alg"]));
        assert_eq!(claims["jti"], "interop-1");
        // And expired once its time has passed.
        assert_eq!(
            token::verify(tok, &req, &set, now + 3600).map(|_| ()),
            Err(Reason::TokenExpired)
        );
    }
}

/// RFC 8037 Appendix A.4: the Ed25519 example signature over "Example of Ed25519 signing".
#[test]
fn rfc8037_ed25519_example_signature() {
    let set = KeySet::parse(
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    )
    .unwrap();
    let jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let req = Requirements::default();
    let decoded = token::decode(jws, &req).unwrap();
    // The signature verifies; the payload is text, not a claims object, so it is no JWT.
    assert_eq!(
        decoded.verify_signature(&set).map(|_| ()),
        Err(Reason::TokenMalformed)
    );
    let parts: Vec<&str> = jws.split('.').collect();
    let sig = warden_core::b64::decode(parts[2]).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    assert!(set.keys[0]
        .material
        .verify(Algorithm::EdDSA, input.as_bytes(), &sig));
    let mut bad = sig.clone();
    bad[10] ^= 0x40;
    assert!(!set.keys[0]
        .material
        .verify(Algorithm::EdDSA, input.as_bytes(), &bad));
}
