//! Key generation (`warden-verifier keygen` writes what this makes to files).

use super::jwk::Jwk;
use super::{Algorithm, JoseError};
use jwt_simple::prelude::{ES256KeyPair, Ed25519KeyPair, RS256KeyPair};
use warden_core::b64;

/// RSA modulus size for RS256 keys.
pub const RSA_BITS: usize = 2048;
/// Bytes of an HS256 secret.
pub const HMAC_KEY_BYTES: usize = 32;

/// The error for an algorithm outside [`super::TOOL_ALGORITHMS`].
pub fn unsupported(alg: Algorithm) -> String {
    let names = super::TOOL_ALGORITHMS.map(Algorithm::name).join(", ");
    format!("keygen and mint support {names}; not {alg}")
}

/// A new private JWK for `alg`, with `kid` (default: its thumbprint), `alg` and `use: sig`.
/// Keys come from jwt-simple, the library that signs with them.
pub fn generate(alg: Algorithm, kid: Option<&str>) -> Result<Jwk, JoseError> {
    let exported = match alg {
        Algorithm::ES256 => ES256KeyPair::generate().to_jwk(),
        Algorithm::EdDSA => Ed25519KeyPair::generate().to_jwk(),
        Algorithm::RS256 => RS256KeyPair::generate(RSA_BITS)
            .map_err(|e| JoseError(format!("RSA key generation failed: {e}")))?
            .to_jwk(),
        Algorithm::HS256 => {
            let secret =
                crate::random::bytes::<HMAC_KEY_BYTES>().map_err(|e| JoseError(e.to_string()))?;
            let mut jwk = Jwk::empty("oct");
            jwk.k = Some(b64::encode(&secret));
            serde_json::to_string(&jwk).map_err(|e| JoseError(e.to_string()))?
        }
        other => return super::fail(unsupported(other)),
    };
    let mut jwk: Jwk = serde_json::from_str(&exported)
        .map_err(|e| JoseError(format!("unexpected JWK from the key generator: {e}")))?;
    jwk.kid = Some(match kid {
        Some(kid) => kid.to_owned(),
        None => jwk.thumbprint()?,
    });
    jwk.alg = Some(alg);
    jwk.key_use = Some("sig".into());
    Ok(jwk)
}

/// The JWKS document holding the public half of `jwk`.
pub fn jwks_of(jwk: &Jwk) -> serde_json::Value {
    serde_json::json!({ "keys": [jwk.public()] })
}
