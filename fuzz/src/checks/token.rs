//! Target `token_verify`: arbitrary compact tokens against the fixed keys of every algorithm.
//!
//! Byte 0 chooses the mode: even → the rest is a compact token as it is; odd → byte 2 picks the
//! signing algorithm and the rest is `header JSON 0xFF payload JSON`, signed with that
//! algorithm's fixed key (so claim checks and header handling are reached with good signatures,
//! including a header that names another algorithm than the one that signed). Byte 1 chooses the
//! provider's requirements.
//!
//! Oracles: an accepted token's signature verifies with the reference (RustCrypto, dalek, HMAC)
//! for the algorithm in its header, its algorithm is allowed and its claims meet the
//! requirements; a signature refused by Warden is refused by the reference; a token signed by the
//! key its header names is never refused for its signature.

use super::input::{split_once, Input};
use super::keys::{self, NOW};
use serde_json::Value;
use warden_core::token::{self, Requirements};
use warden_core::{b64, Algorithm, Reason};

pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api.example";

pub fn requirements(bits: u8) -> Requirements {
    Requirements {
        issuer: (bits & 1 != 0).then(|| ISSUER.to_string()),
        audiences: if bits & 2 != 0 {
            vec![AUDIENCE.to_string()]
        } else {
            Vec::new()
        },
        algorithms: (bits & 4 != 0)
            .then(|| vec![Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA]),
        clock_skew_seconds: if bits & 8 != 0 { 0 } else { 60 },
        require_expiration: bits & 16 == 0,
        max_token_bytes: if bits & 32 != 0 { 300 } else { 8192 },
    }
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let req = requirements(input.byte());
    let mut signed_with = None;
    let token = if mode & 1 == 0 {
        match std::str::from_utf8(input.rest()) {
            Ok(text) => text.to_string(),
            Err(_) => return,
        }
    } else {
        let alg = Algorithm::ALL[usize::from(input.byte()) % Algorithm::ALL.len()];
        let (header, payload) = split_once(input.rest(), 0xff);
        let signing_input = keys::signing_input(header, payload);
        let sig = keys::sign(alg, signing_input.as_bytes(), 7);
        signed_with = Some(alg);
        keys::compact(&signing_input, &sig)
    };
    let set = keys::keyset();
    let result = token::verify(&token, &req, set, NOW);

    let parts = token
        .rsplit_once('.')
        .and_then(|(signing_input, sig)| Some((signing_input, b64::decode(sig)?)));
    match &result {
        Ok(claims) => {
            let decoded = token::decode(&token, &req).expect("an accepted token decodes");
            let (signing_input, sig) = parts.expect("an accepted token has a signature");
            assert!(
                keys::reference_verify(decoded.alg, signing_input.as_bytes(), &sig),
                "accepted a {} signature the reference refuses",
                decoded.alg
            );
            if let Some(allowed) = &req.algorithms {
                assert!(allowed.contains(&decoded.alg), "algorithm not allowed");
            }
            assert!(token.len() <= req.max_token_bytes);
            check_accepted_claims(claims, &req);
        }
        Err(Reason::SignatureInvalid) => {
            let decoded =
                token::decode(&token, &req).expect("a signature is checked after decoding");
            if let Some((signing_input, sig)) = parts {
                assert!(
                    !keys::reference_verify(decoded.alg, signing_input.as_bytes(), &sig),
                    "refused a {} signature the reference accepts",
                    decoded.alg
                );
            }
            if let Some(alg) = signed_with {
                let kid_fits = decoded.kid.as_deref().is_none_or(|k| k == keys::kid(alg));
                assert!(
                    !(decoded.alg == alg && kid_fits),
                    "refused a good {alg} signature"
                );
            }
        }
        Err(_) => {}
    }
}

fn check_accepted_claims(claims: &token::Claims, req: &Requirements) {
    // NumericDates may be fractions, truncated (RFC 7519 §2); the i64 read keeps big integers exact.
    let date = |name: &str| {
        let v = claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f.trunc() as i64))
    };
    for name in ["iss", "sub", "jti"] {
        assert!(
            claims.get(name).is_none_or(Value::is_string),
            "non-string {name} accepted"
        );
    }
    match claims.get("aud") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(list)) => assert!(list.iter().all(Value::is_string), "aud list"),
        Some(other) => panic!("aud of the wrong type accepted: {other}"),
    }
    match date("exp") {
        Some(exp) => assert!(NOW - req.clock_skew_seconds < exp, "expired token accepted"),
        None => assert!(
            !req.require_expiration && claims.get("exp").is_none(),
            "token without a usable exp accepted"
        ),
    }
    if let Some(nbf) = date("nbf") {
        assert!(
            nbf <= NOW + req.clock_skew_seconds,
            "token before nbf accepted"
        );
    }
    if let Some(issuer) = &req.issuer {
        assert_eq!(
            claims.get("iss").and_then(Value::as_str),
            Some(issuer.as_str())
        );
    }
    if !req.audiences.is_empty() {
        let aud = claims.get("aud").expect("audience checked");
        let hit = match aud {
            Value::String(a) => a == AUDIENCE,
            Value::Array(list) => list.iter().any(|a| a.as_str() == Some(AUDIENCE)),
            _ => false,
        };
        assert!(hit, "audience mismatch accepted: {aud}");
    }
}
