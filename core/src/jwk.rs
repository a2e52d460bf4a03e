//! JSON Web Key Sets (RFC 7517, RFC 7518 §6, RFC 8037): parsed once into ready-to-use
//! verification keys. Keys Warden cannot use safely are skipped with a reason, never guessed at.
//!
//! Other key documents are read too and become JWKs first (`pubkey`): PEM public keys and
//! certificates (`-----BEGIN PUBLIC KEY-----`, `RSA PUBLIC KEY`, `CERTIFICATE`), Google-style
//! certificate maps (`{"kid": "-----BEGIN CERTIFICATE-----…"}`, as `jwt_authn` reads them) and a
//! JWK's `x5c`.

use crate::alg::{Algorithm, KeyKind};
use crate::b64;
use crate::crypto::ecdsa::{EcKeyError, P256PublicKey, P384PublicKey, P521PublicKey};
use crate::crypto::eddsa::{self, EdKeyError};
use crate::crypto::rsa::{RsaKeyError, RsaPublicKey};
use crate::der::write as der;
use crate::pem::{self, PemError};
use crate::pubkey::{self, PublicKeyError};
use serde_json::{Map, Value};
use std::fmt;

/// Smallest RSA modulus accepted (RFC 7518 §3.3), and the largest, to bound the work an input can cause.
pub const MIN_RSA_BITS: usize = 2048;
pub const MAX_RSA_BITS: usize = 8192;
/// HMAC keys shorter than this serve no algorithm (HS256 needs 32 bytes, RFC 7518 §3.2).
pub const MIN_HMAC_KEY_BYTES: usize = 32;
/// Upper bound on keys kept from one set.
pub const MAX_KEYS: usize = 64;

pub enum KeyMaterial {
    Hmac(Vec<u8>),
    Rsa(Box<RsaPublicKey>),
    P256(Box<P256PublicKey>),
    P384(Box<P384PublicKey>),
    P521(Box<P521PublicKey>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl KeyMaterial {
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyMaterial::Hmac(_) => KeyKind::Hmac,
            KeyMaterial::Rsa(_) => KeyKind::Rsa,
            KeyMaterial::P256(_) => KeyKind::EcP256,
            KeyMaterial::P384(_) => KeyKind::EcP384,
            KeyMaterial::P521(_) => KeyKind::EcP521,
            KeyMaterial::Ed25519(_) => KeyKind::Ed25519,
        }
    }
}

impl std::fmt::Debug for KeyMaterial {
    // Never print key material (an HMAC key is a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.kind())
    }
}

#[derive(Debug)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The `alg` the key is pinned to, when the JWK names one.
    pub alg: Option<Algorithm>,
    pub material: KeyMaterial,
    /// The public key as DER SubjectPublicKeyInfo, built once here for a host's signature check
    /// (`crypto::host`); empty for HMAC secrets, which never leave the filter.
    pub spki: Box<[u8]>,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        if self.material.kind() != alg.key_kind() {
            return false;
        }
        if self.alg.is_some_and(|pinned| pinned != alg) {
            return false;
        }
        match &self.material {
            KeyMaterial::Hmac(k) => k.len() >= alg.min_hmac_key_bytes(),
            _ => true,
        }
    }
}

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

#[derive(Debug, Default)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    /// The keys left out, e.g. `key 2 (kid "a"): RSA modulus is 1024 bits; at least 2048 required`.
    pub skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`); a single JWK object is accepted too.
    /// Fails when the document is not a key set or when no key in it is usable.
    pub fn parse(json: &str) -> Result<KeySet, JwksError> {
        KeySet::parse_from(json, Origin::Configuration)
    }

    /// Like `parse`, for a document fetched from a URL: a JWKS served over HTTP is public, so
    /// symmetric (`oct`) keys in it are refused — anyone could mint tokens with them.
    pub fn parse_public(json: &str) -> Result<KeySet, JwksError> {
        KeySet::parse_from(json, Origin::Public)
    }

    fn parse_from(text: &str, origin: Origin) -> Result<KeySet, JwksError> {
        let mut set = KeySet::default();
        for (index, entry) in documents_keys(text)?.into_iter().enumerate() {
            let kid = match &entry {
                Ok(key) => key.get("kid").and_then(Value::as_str).map(str::to_owned),
                Err((kid, _)) => kid.clone(),
            };
            let parsed = if set.keys.len() >= MAX_KEYS {
                Err(JwkError::TooManyKeys)
            } else {
                entry
                    .and_then(|key| parse_jwk(&key, origin).map_err(|e| (None, e)))
                    .map_err(|(_, e)| e)
            };
            match parsed {
                Ok(jwk) => set.keys.push(jwk),
                Err(error) => set.skipped.push(SkippedKey { index, kid, error }),
            }
        }
        if set.keys.is_empty() {
            return Err(JwksError::NoUsableKey(
                set.skipped.into_iter().next().map(Box::new),
            ));
        }
        Ok(set)
    }

    /// Keys that may verify `alg`: when the token names a `kid`, the keys with that `kid` and
    /// the keys without one.
    pub fn candidates<'a>(
        &'a self,
        alg: Algorithm,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys
            .iter()
            // A key without a `kid` is a candidate for any token, as in Envoy's jwt_authn.
            .filter(move |k| kid.is_none() || k.kid.is_none() || k.kid.as_deref() == kid)
            .filter(move |k| k.fits(alg))
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

/// Where a document comes from: the configuration (secret) or a URL (public).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Configuration,
    Public,
}

/// One key of a document: a JWK, or why a key could not even become one (with its `kid`).
type Entry = Result<Value, (Option<String>, JwkError)>;

/// The keys of a document, whichever of the accepted forms it has: a JWKS, a single JWK, a
/// certificate map (`{"kid": "-----BEGIN CERTIFICATE-----…"}`, each `kid` from its map key) or
/// PEM text (keys without `kid`).
fn documents_keys(text: &str) -> Result<Vec<Entry>, JwksError> {
    if pem::looks_like_pem(text) {
        return Ok(pubkey::pem_jwks(text)
            .map_err(JwksError::Pem)?
            .into_iter()
            .map(|key| {
                key.map(Value::Object)
                    .map_err(|e| (None, JwkError::PublicKey(e)))
            })
            .collect());
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| JwksError::NotJson(e.to_string()))?;
    match doc {
        Value::Object(mut obj) => match obj.remove("keys") {
            Some(Value::Array(keys)) => Ok(keys.into_iter().map(Ok).collect()),
            Some(_) => Err(JwksError::KeysNotArray),
            None if obj.contains_key("kty") => Ok(vec![Ok(Value::Object(obj))]),
            None if is_certificate_map(&obj) => Ok(obj
                .into_iter()
                .take(MAX_KEYS + 1)
                .map(|(kid, pem)| {
                    let key = pubkey::single_pem_jwk(pem.as_str().unwrap_or_default());
                    match key {
                        Ok(mut members) => {
                            members.insert("kid".into(), Value::String(kid));
                            Ok(Value::Object(members))
                        }
                        Err(e) => Err((Some(kid), JwkError::PublicKey(e))),
                    }
                })
                .collect()),
            None => Err(JwksError::MissingKeys),
        },
        _ => Err(JwksError::NotAnObject),
    }
}

/// `{"kid": "-----BEGIN CERTIFICATE-----…", …}`: a non-empty object of PEM strings only.
fn is_certificate_map(obj: &Map<String, Value>) -> bool {
    !obj.is_empty()
        && obj
            .values()
            .all(|v| v.as_str().is_some_and(pem::looks_like_pem))
}

/// The members the first `x5c` certificate (RFC 7517 §4.7) gives the key: added where the JWK
/// lacks them, compared where it has them.
fn with_x5c(obj: &Map<String, Value>) -> Result<Option<Map<String, Value>>, JwkError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let Some(x5c) = obj.get("x5c") else {
        return Ok(None);
    };
    let first = match x5c.as_array().map(Vec::as_slice) {
        Some([first, rest @ ..]) if rest.iter().all(Value::is_string) => first,
        _ => return Err(JwkError::BadX5c),
    };
    let der = first
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or(JwkError::BadX5c)?;
    let derived = pubkey::certificate_jwk(&der).map_err(JwkError::PublicKey)?;
    let mut merged = obj.clone();
    for (name, value) in derived {
        match obj.get(&name) {
            None => {
                merged.insert(name, value);
            }
            Some(own) if same_member(&name, own, &value) => {}
            Some(_) => {
                let name: &'static str = match name.as_str() {
                    "kty" => "kty",
                    "crv" => "crv",
                    "n" => "n",
                    "e" => "e",
                    "x" => "x",
                    _ => "y",
                };
                return Err(JwkError::X5cMismatch(name));
            }
        }
    }
    Ok(Some(merged))
}

/// Whether a JWK's own member equals the certificate's: byte strings compared as integers
/// (leading zero bytes ignored), names exactly.
fn same_member(name: &str, own: &Value, derived: &Value) -> bool {
    if matches!(name, "kty" | "crv") {
        return own == derived;
    }
    let bytes = |v: &Value| v.as_str().and_then(b64::decode);
    match (bytes(own), bytes(derived)) {
        (Some(a), Some(b)) => {
            let strip =
                |v: &[u8]| -> Vec<u8> { v.iter().copied().skip_while(|b| *b == 0).collect() };
            strip(&a) == strip(&b)
        }
        _ => false,
    }
}

fn parse_jwk(key: &Value, origin: Origin) -> Result<Jwk, JwkError> {
    let obj = key.as_object().ok_or(JwkError::NotAnObject)?;
    let merged = with_x5c(obj)?;
    let obj = merged.as_ref().unwrap_or(obj);
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(JwkError::KidNotString),
    };
    if let Some(usage) = obj.get("use") {
        if usage.as_str() != Some("sig") {
            return Err(JwkError::UseNotSig);
        }
    }
    let alg = match obj.get("alg") {
        None => None,
        Some(Value::String(name)) => {
            Some(Algorithm::from_name(name).ok_or_else(|| JwkError::UnsupportedAlg(name.clone()))?)
        }
        Some(_) => return Err(JwkError::AlgNotString),
    };
    let (kty, material, spki) = match str_field(obj, "kty")? {
        "oct" if origin == Origin::Public => return Err(JwkError::SymmetricFromRemote),
        "oct" => {
            let k = bytes_field(obj, "k")?;
            if k.len() < MIN_HMAC_KEY_BYTES {
                return Err(JwkError::HmacTooShort { bytes: k.len() });
            }
            ("oct", KeyMaterial::Hmac(k), Vec::new())
        }
        "RSA" => {
            let (n, e) = (bytes_field(obj, "n")?, bytes_field(obj, "e")?);
            let key = RsaPublicKey::new(&n, &e, MAX_RSA_BITS).map_err(JwkError::Rsa)?;
            if key.bits() < MIN_RSA_BITS {
                return Err(JwkError::RsaTooSmall { bits: key.bits() });
            }
            let spki = der::rsa_spki(&n, &e);
            ("RSA", KeyMaterial::Rsa(Box::new(key)), spki)
        }
        "EC" => {
            let crv = str_field(obj, "crv")?;
            let x = bytes_field(obj, "x")?;
            let y = bytes_field(obj, "y")?;
            // Coordinates of the field's size, each < p, on the curve (SEC 1 §3.2.2).
            let (material, curve) = match crv {
                "P-256" => (
                    KeyMaterial::P256(Box::new(
                        P256PublicKey::from_coordinates(&x, &y).map_err(JwkError::Ec)?,
                    )),
                    der::P256_OID,
                ),
                "P-384" => (
                    KeyMaterial::P384(Box::new(
                        P384PublicKey::from_coordinates(&x, &y).map_err(JwkError::Ec)?,
                    )),
                    der::P384_OID,
                ),
                "P-521" => (
                    KeyMaterial::P521(Box::new(
                        P521PublicKey::from_coordinates(&x, &y).map_err(JwkError::Ec)?,
                    )),
                    der::P521_OID,
                ),
                other => return Err(JwkError::UnsupportedCurve(other.to_owned())),
            };
            ("EC", material, der::ec_spki(curve, &x, &y))
        }
        "OKP" => {
            let crv = str_field(obj, "crv")?;
            if crv != "Ed25519" {
                return Err(JwkError::UnsupportedCurve(crv.to_owned()));
            }
            let x = bytes_field(obj, "x")?;
            let key = eddsa::public_key(&x).map_err(JwkError::Ed25519)?;
            ("OKP", KeyMaterial::Ed25519(key), der::ed25519_spki(&x))
        }
        other => return Err(JwkError::UnsupportedKty(other.to_owned())),
    };
    if let Some(pinned) = alg {
        if pinned.key_kind() != material.kind() {
            return Err(JwkError::AlgMismatch { alg: pinned, kty });
        }
    }
    Ok(Jwk {
        kid,
        alg,
        material,
        spki: spki.into_boxed_slice(),
    })
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, JwkError> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or(JwkError::MissingMember(name))
}

fn bytes_field(obj: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    b64::decode(str_field(obj, name)?).ok_or(JwkError::NotBase64Url(name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const EC_P256: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn parses_ec_key_and_matches_by_kid_and_alg() {
        let set = KeySet::parse(&format!(r#"{{"keys":[{EC_P256}]}}"#)).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.candidates(Algorithm::ES256, Some("ec1")).count(), 1);
        assert_eq!(set.candidates(Algorithm::ES256, Some("other")).count(), 0);
        assert_eq!(set.candidates(Algorithm::ES384, None).count(), 0);
        assert_eq!(set.candidates(Algorithm::HS256, None).count(), 0);
        assert!(set.has_kid("ec1"));
    }

    #[test]
    fn single_jwk_object_is_accepted() {
        assert_eq!(KeySet::parse(EC_P256).unwrap().keys.len(), 1);
    }

    #[test]
    fn short_hmac_key_is_refused() {
        let err = KeySet::parse(r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#).unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(first.error, JwkError::HmacTooShort { bytes: 5 });
        // The configuration error names the key and the rule it breaks.
        assert_eq!(
            err.to_string(),
            "no usable key (key 0: HMAC key is 5 bytes; at least 32 required (RFC 7518 §3.2))"
        );
    }

    #[test]
    fn hmac_key_length_limits_algorithms() {
        let k = b64::encode(&[7u8; 40]);
        let set = KeySet::parse(&format!(r#"{{"keys":[{{"kty":"oct","k":"{k}"}}]}}"#)).unwrap();
        assert_eq!(set.candidates(Algorithm::HS256, None).count(), 1);
        assert_eq!(set.candidates(Algorithm::HS384, None).count(), 0);
        assert_eq!(set.candidates(Algorithm::RS256, None).count(), 0);
    }

    #[test]
    fn pinned_alg_must_match() {
        let k = b64::encode(&[7u8; 64]);
        let set = KeySet::parse(&format!(
            r#"{{"keys":[{{"kty":"oct","alg":"HS512","k":"{k}"}}]}}"#
        ))
        .unwrap();
        assert_eq!(set.candidates(Algorithm::HS256, None).count(), 0);
        assert_eq!(set.candidates(Algorithm::HS512, None).count(), 1);
        let err = KeySet::parse(&format!(
            r#"{{"keys":[{{"kty":"oct","alg":"ES256","k":"{k}"}}]}}"#
        ))
        .unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            first.error,
            JwkError::AlgMismatch {
                alg: Algorithm::ES256,
                kty: "oct"
            }
        );
    }

    #[test]
    fn unusable_keys_are_skipped_with_reasons() {
        let set = KeySet::parse(&format!(
            r#"{{"keys":[{{"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}},{EC_P256},{{"kty":"EC","crv":"P-256","use":"enc","x":"AA","y":"AA"}}]}}"#
        ))
        .unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.skipped.len(), 2);
        assert_eq!(
            set.skipped[0].error,
            JwkError::UnsupportedCurve("secp256k1".into())
        );
        assert_eq!(
            (set.skipped[1].index, &set.skipped[1].error),
            (2, &JwkError::UseNotSig)
        );
    }

    #[test]
    fn point_off_curve_is_refused() {
        let err = KeySet::parse(
            r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"}"#,
        )
        .unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            first.error,
            JwkError::Ec(EcKeyError::NotOnCurve { curve: "P-256" })
        );
    }

    #[test]
    fn small_rsa_key_is_refused() {
        let n = b64::encode(&[0xC5u8; 128]);
        let err = KeySet::parse(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#)).unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(first.error, JwkError::RsaTooSmall { bits: 1024 });
    }

    #[test]
    fn garbage_documents_are_errors() {
        assert!(matches!(KeySet::parse("nope"), Err(JwksError::NotJson(_))));
        assert_eq!(KeySet::parse("[]").unwrap_err(), JwksError::NotAnObject);
        assert_eq!(KeySet::parse("{}").unwrap_err(), JwksError::MissingKeys);
        assert_eq!(
            KeySet::parse(r#"{"keys":{}}"#).unwrap_err(),
            JwksError::KeysNotArray
        );
        assert_eq!(
            KeySet::parse(r#"{"keys":[]}"#).unwrap_err(),
            JwksError::NoUsableKey(None)
        );
        let err = KeySet::parse(r#"{"keys":[1,"x",null]}"#).unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(first.error, JwkError::NotAnObject);
    }

    #[test]
    fn each_kind_of_bad_key_has_its_variant() {
        let cases = [
            (r#"{"kty":"RSA","n":"AQAB"}"#, JwkError::MissingMember("e")),
            (r#"{"kty":"oct","k":"a+b"}"#, JwkError::NotBase64Url("k")),
            (r#"{"kty":"dsa"}"#, JwkError::UnsupportedKty("dsa".into())),
            (r#"{"kty":"oct","kid":7}"#, JwkError::KidNotString),
            (r#"{"kty":"oct","alg":5}"#, JwkError::AlgNotString),
            (
                r#"{"kty":"oct","alg":"none"}"#,
                JwkError::UnsupportedAlg("none".into()),
            ),
            (
                r#"{"kty":"OKP","crv":"X25519","x":"AA"}"#,
                JwkError::UnsupportedCurve("X25519".into()),
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#,
                JwkError::Ed25519(EdKeyError::Length),
            ),
            (
                r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#,
                JwkError::Ec(EcKeyError::CoordinateLength {
                    curve: "P-384",
                    coordinate: "x",
                    bytes: 48,
                }),
            ),
            (
                r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
                JwkError::Rsa(RsaKeyError::BadModulus),
            ),
        ];
        for (jwk, expected) in cases {
            let err = KeySet::parse(jwk).unwrap_err();
            let JwksError::NoUsableKey(Some(first)) = err else {
                panic!("{jwk}: {err:?}")
            };
            assert_eq!(first.error, expected, "{jwk}");
        }
    }

    #[test]
    fn remote_sets_refuse_symmetric_keys_one_by_one() {
        let k = b64::encode(&[7u8; 32]);
        let oct = format!(r#"{{"kty":"oct","kid":"s","k":"{k}"}}"#);
        let set = KeySet::parse_public(&format!(r#"{{"keys":[{oct},{EC_P256}]}}"#)).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(
            set.skipped,
            vec![SkippedKey {
                index: 0,
                kid: Some("s".into()),
                error: JwkError::SymmetricFromRemote
            }]
        );
        let err = KeySet::parse_public(&format!(r#"{{"keys":[{oct}]}}"#)).unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(first.error, JwkError::SymmetricFromRemote);
        // The same key is fine in the (secret) configuration.
        assert_eq!(KeySet::parse(&oct).unwrap().keys.len(), 1);
    }

    #[test]
    fn keys_beyond_the_limit_are_skipped() {
        let keys = vec![EC_P256; MAX_KEYS + 2].join(",");
        let set = KeySet::parse(&format!(r#"{{"keys":[{keys}]}}"#)).unwrap();
        assert_eq!(set.keys.len(), MAX_KEYS);
        assert_eq!(set.skipped.len(), 2);
        assert_eq!(set.skipped[0].error, JwkError::TooManyKeys);
        assert_eq!(set.skipped[0].index, MAX_KEYS);
        assert_eq!(
            set.skipped[0].to_string(),
            format!("key {MAX_KEYS} (kid \"ec1\"): more than {MAX_KEYS} keys")
        );
    }
}
