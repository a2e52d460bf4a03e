//! The one test kit of the workspace: a key per JWS algorithm, derived deterministically from a
//! seed (so every run and every crate sees the same keys), their JWKs and JWK sets, signing of any
//! header and claims (well-formed or hostile), and an independent RustCrypto verifier for checking
//! what production code signs.
//!
//! ```
//! use warden_testkit::{keys, Algorithm};
//! let token = keys().sign(Algorithm::ES256, &serde_json::json!({"sub": "alice"}));
//! assert_eq!(token.split('.').count(), 3);
//! ```
//!
//! Test-only (`publish = false`, a dev-dependency everywhere): a broken key or a refused
//! signature is a broken test, so the kit fails loudly instead of returning errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod host_crypto;
pub mod hostile;
pub mod keys;
pub mod sign;
pub mod verify;

pub use keys::{jwks_of, keys, kid, other_keys, Keys};
pub use warden_core::Algorithm;

/// Base64url without padding, as JWS uses it.
pub fn b64(bytes: &[u8]) -> String {
    warden_core::b64::encode(bytes)
}

/// Decodes base64url without padding; panics on anything else (test input is known good).
pub fn unb64(text: &str) -> Vec<u8> {
    warden_core::b64::decode(text).unwrap_or_else(|| panic!("not base64url: {text:?}"))
}
