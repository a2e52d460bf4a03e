//! Ed25519 (RFC 8032 §5.1.7) for JWS EdDSA (RFC 8037), through `ed25519-dalek`.

use ed25519_dalek::{Signature, VerifyingKey};
use std::fmt;

/// Why a JWK `x` is not a usable Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdKeyError {
    /// `x` is not 32 bytes (RFC 8037 §2).
    Length,
    /// `x` does not decode to a curve point.
    Invalid,
    /// A small-order point: it verifies forged signatures (RFC 8032 does not exclude it).
    Weak,
}

impl fmt::Display for EdKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EdKeyError::Length => "Ed25519 \"x\" must be 32 bytes",
            EdKeyError::Invalid => "invalid Ed25519 key",
            EdKeyError::Weak => "weak Ed25519 key (small-order point)",
        })
    }
}

impl std::error::Error for EdKeyError {}

/// The public key encoded as `x`.
pub(crate) fn public_key(x: &[u8]) -> Result<VerifyingKey, EdKeyError> {
    let x: &[u8; 32] = x.try_into().map_err(|_| EdKeyError::Length)?;
    let key = VerifyingKey::from_bytes(x).map_err(|_| EdKeyError::Invalid)?;
    if key.is_weak() {
        return Err(EdKeyError::Weak);
    }
    Ok(key)
}

/// Strict verification: also refuses small-order R and non-canonical encodings.
pub(crate) fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    match Signature::from_slice(signature) {
        Ok(sig) => key.verify_strict(message, &sig).is_ok(),
        Err(_) => false,
    }
}
