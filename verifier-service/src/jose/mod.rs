//! Key generation and token minting for demos and end-to-end tests (`keygen`, `mint`).
//! Pure Rust (RustCrypto): P-256 ECDSA, Ed25519, RSA PKCS#1 v1.5 with SHA-256, HMAC-SHA-256.

pub mod jwk;
pub mod keygen;
pub mod mint;
pub mod sign;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum Algorithm {
    #[value(name = "ES256")]
    #[serde(rename = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    #[serde(rename = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    #[serde(rename = "RS256")]
    Rs256,
    #[value(name = "HS256")]
    #[serde(rename = "HS256")]
    Hs256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
            Algorithm::Hs256 => "HS256",
        }
    }
}

/// Errors of `keygen` and `mint`, as text for the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoseError(pub String);

impl std::fmt::Display for JoseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JoseError {}

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, JoseError> {
    Err(JoseError(message.into()))
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(field: &str, text: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JoseError(format!("JWK member `{field}` is not base64url")))
}
