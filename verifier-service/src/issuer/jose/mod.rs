//! JOSE for the issuer and the tools (`cmd::keygen`, `cmd::mint`): JWKs, signing and verifying,
//! key generation. Pure Rust (RustCrypto): P-256 ECDSA, Ed25519, RSA PKCS#1 v1.5 with SHA-256,
//! HMAC-SHA-256. Algorithm names and base64url are core's, so the tools speak exactly what the
//! filter reads.

pub mod jwk;
pub mod keygen;
pub mod sign;

pub use warden_core::Algorithm;

/// The algorithms `keygen` makes keys for and `mint` signs with.
pub const TOOL_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::HS256,
];

/// The name of one of [`TOOL_ALGORITHMS`] (exact, case-sensitive, as in a JWS header).
pub fn tool_algorithm(name: &str) -> Option<Algorithm> {
    Algorithm::from_name(name).filter(|alg| TOOL_ALGORITHMS.contains(alg))
}

/// Serde for a JWK's optional `alg` member, restricted to [`TOOL_ALGORITHMS`].
pub(crate) mod alg_member {
    use super::{tool_algorithm, Algorithm};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    /// The names of [`super::TOOL_ALGORITHMS`], for serde's error message (which wants statics).
    pub const NAMES: &[&str] = &["ES256", "EdDSA", "RS256", "HS256"];

    pub fn serialize<S: Serializer>(alg: &Option<Algorithm>, s: S) -> Result<S::Ok, S::Error> {
        match alg {
            Some(alg) => s.serialize_str(alg.name()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Algorithm>, D::Error> {
        let Some(name) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        match tool_algorithm(&name) {
            Some(alg) => Ok(Some(alg)),
            None => Err(D::Error::unknown_variant(&name, NAMES)),
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

/// A JWK member's bytes (strict base64url, as core reads keys).
pub fn unb64(field: &str, text: &str) -> Result<Vec<u8>, JoseError> {
    warden_core::b64::decode(text)
        .ok_or_else(|| JoseError(format!("JWK member `{field}` is not base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_algorithms_by_exact_name() {
        for alg in TOOL_ALGORITHMS {
            assert_eq!(tool_algorithm(alg.name()), Some(alg));
        }
        assert_eq!(tool_algorithm("es256"), None);
        assert_eq!(
            tool_algorithm("RS512"),
            None,
            "core knows it, the tools do not"
        );
        assert_eq!(tool_algorithm("none"), None);
        assert_eq!(alg_member::NAMES, TOOL_ALGORITHMS.map(Algorithm::name));
    }
}
