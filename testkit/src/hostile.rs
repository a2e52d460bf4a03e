//! Tokens an attacker or a broken client sends. Each builder names the one thing that is wrong,
//! so a test reads as the attack it tries; everything else about the token is well-formed.

use crate::keys::{kid, Keys};
use crate::sign::{hmac, signing_input};
use crate::{b64, unb64, Algorithm};
use serde_json::{json, Value};

/// The three segments of a compact token (any count, for tokens that are already broken).
pub fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

/// A compact token from raw segments, none of them checked or signed.
pub fn compact(header: &[u8], claims: &[u8], signature: &[u8]) -> String {
    format!("{}.{}", signing_input(header, claims), b64(signature))
}

/// An unsecured JWS (RFC 7515 §A.5): `alg` as given (`none`, `None`, …) and an empty signature.
pub fn alg_none(alg: &str, claims: &Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT"});
    compact(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        b"",
    )
}

/// `token` with its claims replaced and its header and signature kept.
pub fn with_claims(token: &str, claims: &Value) -> String {
    let parts = segments(token);
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// `token` with another signature (e.g. all zero bytes: the "psychic signature" of ECDSA).
pub fn with_signature(token: &str, signature: &[u8]) -> String {
    let parts = segments(token);
    format!("{}.{}.{}", parts[0], parts[1], b64(signature))
}

/// `token` with an empty signature segment.
pub fn without_signature(token: &str) -> String {
    with_signature(token, b"")
}

/// `token` with one bit of its signature flipped.
pub fn flip_signature_bit(token: &str) -> String {
    let mut signature = unb64(&segments(token)[2]);
    signature[0] ^= 1;
    with_signature(token, &signature)
}

/// Ways to break the base64url of a valid token: padding, the standard alphabet, a character
/// outside both, and a header that decodes but is not JSON.
pub fn bad_base64(token: &str) -> Vec<String> {
    let p = segments(token);
    vec![
        format!("{}.{}.{}=", p[0], p[1], p[2]),
        format!("{}.{}+/.{}", p[0], p[1], p[2]),
        format!("{}!.{}.{}", p[0], p[1], p[2]),
        format!("{}.{}.{}", b64(b"not json"), p[1], p[2]),
    ]
}

/// Wrong segment counts around a valid token.
pub fn bad_segment_counts(token: &str) -> Vec<String> {
    let p = segments(token);
    vec![
        p[0].clone(),
        format!("{}.{}", p[0], p[1]),
        format!("{token}.{}", p[2]),
        format!("{token}.."),
        "..".to_owned(),
    ]
}

/// An `HS*` token MACed with any secret the attacker likes (e.g. the bytes of an RSA public key,
/// for the RS→HS key confusion).
pub fn hmac_with_secret(alg: Algorithm, secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header.to_string().as_bytes(), claims.to_string().as_bytes());
    let signature = hmac(alg, secret, input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

impl Keys {
    /// Signed with the key for `signed_with`, but the header claims `claimed` (and that key's kid).
    pub fn wrong_alg(&self, signed_with: Algorithm, claimed: &str, claims: &Value) -> String {
        let header = json!({"alg": claimed, "typ": "JWT", "kid": kid(signed_with)});
        self.sign_with_header(signed_with, &header, claims)
    }

    /// A correctly signed token whose header has a `crit` member (RFC 7515 §4.1.11).
    pub fn with_crit(&self, alg: Algorithm, crit: Value, claims: &Value) -> String {
        let mut header = crate::sign::header(alg);
        header["crit"] = crit;
        self.sign_with_header(alg, &header, claims)
    }

    /// A correctly signed token padded (with a `pad` claim) to at least `bytes` long.
    pub fn oversized(&self, alg: Algorithm, claims: &Value, bytes: usize) -> String {
        let mut claims = claims.clone();
        claims["pad"] = json!("x".repeat(bytes / 4 * 3));
        let token = self.sign(alg, &claims);
        assert!(token.len() >= bytes, "{} < {bytes}", token.len());
        token
    }

    /// A correctly signed token carrying its own key (`jwk`) in the header: a filter that trusts
    /// embedded keys would accept anyone's token.
    pub fn with_embedded_jwk(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = crate::sign::header(alg);
        header["jwk"] = self.jwk(alg);
        self.sign_with_header(alg, &header, claims)
    }
}
