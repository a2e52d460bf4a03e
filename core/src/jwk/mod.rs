//! JSON Web Key Sets (RFC 7517, RFC 7518 §6, RFC 8037): parsed once into ready-to-use
//! verification keys. Keys Warden cannot use safely are skipped with a reason, never guessed at.
//!
//! Other key documents are read too and become JWKs first (`pubkey`): PEM public keys and
//! certificates (`-----BEGIN PUBLIC KEY-----`, `RSA PUBLIC KEY`, `CERTIFICATE`), Google-style
//! certificate maps (`{"kid": "-----BEGIN CERTIFICATE-----…"}`, as `jwt_authn` reads them) and a
//! JWK's `x5c`.

mod document;
mod error;
mod material;
mod parse;
mod x5c;

pub use error::{JwkError, JwksError, SkippedKey};
pub use material::KeyMaterial;

use crate::alg::Algorithm;
use document::documents_keys;
use parse::parse_jwk;
use serde_json::Value;

/// Smallest RSA modulus accepted (RFC 7518 §3.3), and the largest, to bound the work an input can cause.
pub const MIN_RSA_BITS: usize = 2048;
pub const MAX_RSA_BITS: usize = 8192;
/// HMAC keys shorter than this serve no algorithm (HS256 needs 32 bytes, RFC 7518 §3.2).
pub const MIN_HMAC_KEY_BYTES: usize = 32;
/// Upper bound on keys kept from one set.
pub const MAX_KEYS: usize = 64;

#[derive(Debug)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The `alg` the key is pinned to, when the JWK names one.
    pub alg: Option<Algorithm>,
    pub material: KeyMaterial,
    /// The public key as DER SubjectPublicKeyInfo, built once here for a host's signature check
    /// (`host_crypto`); empty for HMAC secrets, which never leave the filter.
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
pub(super) enum Origin {
    Configuration,
    Public,
}

#[cfg(test)]
mod tests;
