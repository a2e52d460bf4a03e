//! Public keys in the DER forms `jwt_authn` also takes, turned into JWK members so that one
//! path (`jwk`) validates every key: SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) for RSA
//! (RFC 3279 §2.3.1), EC on P-256/P-384/P-521 (RFC 5480) and Ed25519 (RFC 8410); PKCS#1
//! `RSAPublicKey` (RFC 8017 §A.1.1); and X.509 certificates (RFC 5280 §4.1).
//!
//! A certificate is used for its public key only, as `jwt_authn` does: its chain, dates, key
//! usage and signature are not checked. Whoever configures it (or serves it from the configured
//! JWKS URL) vouches for the key, exactly as for a JWK.

use crate::b64;
use crate::der::oid::{EC_PUBLIC_KEY, ED25519, P256, P384, P521, RSA_ENCRYPTION};
use crate::der::{self, DerError, Reader};
use crate::pem::{self, PemError};
use serde_json::{json, Map, Value};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyError {
    Der(DerError),
    Pem(PemError),
    /// A PEM block that holds no public key (e.g. `PRIVATE KEY`).
    UnsupportedPemLabel(String),
    /// A key algorithm Warden does not verify with (e.g. RSA-PSS-only keys, DSA, X25519).
    UnsupportedKeyAlgorithm,
    /// An EC key on a curve other than P-256, P-384 and P-521.
    UnsupportedCurve,
    /// An EC point not in the uncompressed form `04 ‖ x ‖ y` of the curve's size.
    BadPoint,
    /// An Ed25519 key that is not 32 bytes.
    BadEd25519,
}

impl fmt::Display for PublicKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKeyError::Der(e) => write!(f, "{e}"),
            PublicKeyError::Pem(e) => write!(f, "{e}"),
            PublicKeyError::UnsupportedPemLabel(label) => write!(
                f,
                "PEM {label:?} holds no public key (expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)"
            ),
            PublicKeyError::UnsupportedKeyAlgorithm => {
                f.write_str("unsupported public key algorithm (RSA, EC or Ed25519 expected)")
            }
            PublicKeyError::UnsupportedCurve => {
                f.write_str("unsupported EC curve (P-256, P-384 or P-521 expected)")
            }
            PublicKeyError::BadPoint => f.write_str("EC point not uncompressed or of the wrong size"),
            PublicKeyError::BadEd25519 => f.write_str("Ed25519 key is not 32 bytes"),
        }
    }
}

impl std::error::Error for PublicKeyError {}

impl From<DerError> for PublicKeyError {
    fn from(e: DerError) -> Self {
        PublicKeyError::Der(e)
    }
}

/// JWK members (`kty` and the key's public members) of a DER SubjectPublicKeyInfo.
pub fn spki_jwk(spki: &[u8]) -> Result<Map<String, Value>, PublicKeyError> {
    let mut outer = Reader::new(spki);
    let jwk = spki_members(outer.sequence()?)?;
    outer.finish()?;
    Ok(jwk)
}

/// JWK members of a DER PKCS#1 `RSAPublicKey` (`-----BEGIN RSA PUBLIC KEY-----`).
pub fn pkcs1_jwk(der: &[u8]) -> Result<Map<String, Value>, PublicKeyError> {
    let mut outer = Reader::new(der);
    let jwk = rsa_members(outer.sequence()?)?;
    outer.finish()?;
    Ok(jwk)
}

/// JWK members of the subject public key of a DER X.509 certificate (nothing else of the
/// certificate is checked).
pub fn certificate_jwk(der: &[u8]) -> Result<Map<String, Value>, PublicKeyError> {
    let mut outer = Reader::new(der);
    let mut cert = outer.sequence()?;
    outer.finish()?;
    let mut tbs = cert.sequence()?;
    cert.sequence()?; // signatureAlgorithm
    cert.expect(der::BIT_STRING)?; // signatureValue
    cert.finish()?;
    if tbs.peek_tag() == Some(der::CONTEXT_0) {
        tbs.nested(der::CONTEXT_0)?; // version
    }
    tbs.integer()?; // serialNumber
    tbs.sequence()?; // signature
    tbs.sequence()?; // issuer
    tbs.sequence()?; // validity
    tbs.sequence()?; // subject
    let jwk = spki_members(tbs.sequence()?)?;
    // issuerUniqueID, subjectUniqueID, extensions: read (so the structure is whole), not used.
    while !tbs.is_empty() {
        tbs.any()?;
    }
    Ok(jwk)
}

/// A key as JWK members, or why a block or structure holds none.
pub type KeyMembers = Result<Map<String, Value>, PublicKeyError>;

/// Every key of a PEM document, as JWK members.
pub fn pem_jwks(text: &str) -> Result<Vec<KeyMembers>, PemError> {
    Ok(pem::parse(text)?
        .iter()
        .map(|block| pem_block_jwk(&block.label, &block.der))
        .collect())
}

/// One PEM block's key (`PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE`).
pub fn pem_block_jwk(label: &str, der: &[u8]) -> Result<Map<String, Value>, PublicKeyError> {
    match label {
        "PUBLIC KEY" => spki_jwk(der),
        "RSA PUBLIC KEY" => pkcs1_jwk(der),
        "CERTIFICATE" => certificate_jwk(der),
        other => Err(PublicKeyError::UnsupportedPemLabel(other.to_owned())),
    }
}

/// The single key of a PEM text that must hold exactly one block (an entry of a certificate map).
pub fn single_pem_jwk(text: &str) -> Result<Map<String, Value>, PublicKeyError> {
    let blocks = pem::parse(text).map_err(PublicKeyError::Pem)?;
    match blocks.as_slice() {
        [block] => pem_block_jwk(&block.label, &block.der),
        _ => Err(PublicKeyError::Pem(PemError::NotPem)),
    }
}

fn spki_members(mut spki: Reader<'_>) -> Result<Map<String, Value>, PublicKeyError> {
    let mut algorithm = spki.sequence()?;
    let oid = algorithm.oid()?;
    let key = spki.bit_string_bytes()?;
    spki.finish()?;
    match oid {
        RSA_ENCRYPTION => {
            // Parameters NULL (RFC 3279 §2.3.1); some encoders omit them.
            if !algorithm.is_empty() {
                algorithm.null()?;
            }
            algorithm.finish()?;
            let mut inner = Reader::new(key);
            let jwk = rsa_members(inner.sequence()?)?;
            inner.finish()?;
            Ok(jwk)
        }
        EC_PUBLIC_KEY => {
            let curve = algorithm.oid()?;
            algorithm.finish()?;
            let (crv, size) = match curve {
                P256 => ("P-256", 32),
                P384 => ("P-384", 48),
                P521 => ("P-521", 66),
                _ => return Err(PublicKeyError::UnsupportedCurve),
            };
            let coordinates = match key.split_first() {
                Some((4, xy)) if xy.len() == 2 * size => xy,
                _ => return Err(PublicKeyError::BadPoint),
            };
            let (x, y) = coordinates.split_at(size);
            Ok(members(
                json!({"kty": "EC", "crv": crv, "x": b64::encode(x), "y": b64::encode(y)}),
            ))
        }
        ED25519 => {
            // RFC 8410 §3: the parameters are absent.
            algorithm.finish()?;
            if key.len() != 32 {
                return Err(PublicKeyError::BadEd25519);
            }
            Ok(members(
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(key)}),
            ))
        }
        _ => Err(PublicKeyError::UnsupportedKeyAlgorithm),
    }
}

fn rsa_members(mut key: Reader<'_>) -> Result<Map<String, Value>, PublicKeyError> {
    let n = key.unsigned_integer()?;
    let e = key.unsigned_integer()?;
    key.finish()?;
    Ok(members(
        json!({"kty": "RSA", "n": b64::encode(n), "e": b64::encode(e)}),
    ))
}

fn members(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
