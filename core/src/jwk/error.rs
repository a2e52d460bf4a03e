//! Why a key, or a whole document, is not usable: typed, and worded for the configuration
//! error or the log line that names it.

use super::{MAX_KEYS, MIN_HMAC_KEY_BYTES, MIN_RSA_BITS};
use crate::alg::Algorithm;
use crate::crypto::ecdsa::EcKeyError;
use crate::crypto::eddsa::EdKeyError;
use crate::crypto::rsa::RsaKeyError;
use crate::pem::PemError;
use crate::pubkey::PublicKeyError;
use std::fmt;

/// Why one key of a set is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkError {
    NotAnObject,
    KidNotString,
    /// `use` is present and not `sig` (RFC 7517 §4.2).
    UseNotSig,
    AlgNotString,
    UnsupportedAlg(String),
    /// A required member is missing or not a string.
    MissingMember(&'static str),
    /// A member is not strict base64url (RFC 7515 §2).
    NotBase64Url(&'static str),
    UnsupportedKty(String),
    UnsupportedCurve(String),
    /// An `oct` key shorter than `MIN_HMAC_KEY_BYTES`.
    HmacTooShort {
        bytes: usize,
    },
    Rsa(RsaKeyError),
    /// An RSA modulus shorter than `MIN_RSA_BITS`.
    RsaTooSmall {
        bits: usize,
    },
    Ec(EcKeyError),
    Ed25519(EdKeyError),
    /// The pinned `alg` needs another kind of key than `kty` gives.
    AlgMismatch {
        alg: Algorithm,
        kty: &'static str,
    },
    /// A symmetric key in a document fetched from a URL, where anyone can read it.
    SymmetricFromRemote,
    /// The set already holds `MAX_KEYS` keys.
    TooManyKeys,
    /// A PEM key or certificate (a PEM document, a certificate map entry, an `x5c` entry) that
    /// is not a usable public key.
    PublicKey(PublicKeyError),
    /// `x5c` is not a non-empty array of standard base64 strings (RFC 7517 §4.7).
    BadX5c,
    /// The key in `x5c`'s first certificate differs from the JWK's own members (RFC 7517 §4.7).
    X5cMismatch(&'static str),
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwkError::NotAnObject => f.write_str("a key must be a JSON object"),
            JwkError::KidNotString => f.write_str("\"kid\" must be a string"),
            JwkError::UseNotSig => f.write_str("\"use\" is not \"sig\""),
            JwkError::AlgNotString => f.write_str("\"alg\" must be a string"),
            JwkError::UnsupportedAlg(name) => write!(f, "unsupported \"alg\" {name:?}"),
            JwkError::MissingMember(name) => write!(f, "missing string \"{name}\""),
            JwkError::NotBase64Url(name) => write!(f, "\"{name}\" is not base64url"),
            JwkError::UnsupportedKty(kty) => write!(f, "unsupported \"kty\" {kty:?}"),
            JwkError::UnsupportedCurve(crv) => write!(f, "unsupported curve {crv:?}"),
            JwkError::HmacTooShort { bytes } => write!(
                f,
                "HMAC key is {bytes} bytes; at least {MIN_HMAC_KEY_BYTES} required (RFC 7518 §3.2)"
            ),
            JwkError::Rsa(e) => write!(f, "invalid RSA key: {e}"),
            JwkError::RsaTooSmall { bits } => {
                write!(
                    f,
                    "RSA modulus is {bits} bits; at least {MIN_RSA_BITS} required"
                )
            }
            JwkError::Ec(e) => write!(f, "{e}"),
            JwkError::Ed25519(e) => write!(f, "{e}"),
            JwkError::AlgMismatch { alg, kty } => {
                write!(f, "\"alg\" {alg} does not fit a {kty} key")
            }
            JwkError::SymmetricFromRemote => {
                f.write_str("symmetric (oct) keys are not accepted from a remote JWKS")
            }
            JwkError::TooManyKeys => write!(f, "more than {MAX_KEYS} keys"),
            JwkError::PublicKey(e) => write!(f, "{e}"),
            JwkError::BadX5c => {
                f.write_str("\"x5c\" must be a non-empty array of base64 DER certificates")
            }
            JwkError::X5cMismatch(member) => write!(
                f,
                "\"{member}\" differs from the key of the first \"x5c\" certificate"
            ),
        }
    }
}

impl std::error::Error for JwkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JwkError::Rsa(e) => Some(e),
            JwkError::Ec(e) => Some(e),
            JwkError::Ed25519(e) => Some(e),
            JwkError::PublicKey(e) => Some(e),
            _ => None,
        }
    }
}

/// A key of the set that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the document's `keys` array.
    pub index: usize,
    pub kid: Option<String>,
    pub error: JwkError,
}

impl fmt::Display for SkippedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(kid) => write!(f, "key {} (kid {kid:?}): {}", self.index, self.error),
            None => write!(f, "key {}: {}", self.index, self.error),
        }
    }
}

/// Why a document is not a usable key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    /// Not JSON; the parser's message.
    NotJson(String),
    NotAnObject,
    MissingKeys,
    KeysNotArray,
    /// No key survived; the first key left out, if any, tells why.
    NoUsableKey(Option<Box<SkippedKey>>),
    /// Text that starts as PEM but is not.
    Pem(PemError),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::NotJson(e) => write!(f, "not valid JSON: {e}"),
            JwksError::NotAnObject => f.write_str("a JWKS must be a JSON object"),
            JwksError::MissingKeys => f.write_str("missing \"keys\" array"),
            JwksError::KeysNotArray => f.write_str("\"keys\" must be an array"),
            JwksError::NoUsableKey(None) => f.write_str("no usable key"),
            JwksError::NoUsableKey(Some(first)) => write!(f, "no usable key ({first})"),
            JwksError::Pem(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for JwksError {}
