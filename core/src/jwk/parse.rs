//! One JWK object → a `Jwk`: its members read strictly, its key material validated, the
//! limits of `jwk` applied, its SubjectPublicKeyInfo built for a host's check.

use super::x5c::with_x5c;
use super::{Jwk, JwkError, KeyMaterial, Origin, MAX_RSA_BITS, MIN_HMAC_KEY_BYTES, MIN_RSA_BITS};
use crate::alg::Algorithm;
use crate::b64;
use crate::crypto::ecdsa::{P256PublicKey, P384PublicKey, P521PublicKey};
use crate::crypto::eddsa;
use crate::crypto::rsa::RsaPublicKey;
use crate::der::oid;
use crate::der::write as der;
use serde_json::{Map, Value};

pub(super) fn parse_jwk(key: &Value, origin: Origin) -> Result<Jwk, JwkError> {
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
                    oid::P256,
                ),
                "P-384" => (
                    KeyMaterial::P384(Box::new(
                        P384PublicKey::from_coordinates(&x, &y).map_err(JwkError::Ec)?,
                    )),
                    oid::P384,
                ),
                "P-521" => (
                    KeyMaterial::P521(Box::new(
                        P521PublicKey::from_coordinates(&x, &y).map_err(JwkError::Ec)?,
                    )),
                    oid::P521,
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
