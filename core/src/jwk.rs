//! JSON Web Key Sets (RFC 7517, RFC 7518 §6, RFC 8037): parsed once into ready-to-use
//! verification keys. Keys Warden cannot use safely are skipped with a reason, never guessed at.

use crate::alg::{Algorithm, KeyKind};
use crate::b64;
use crate::ecdsa_verify::{P256PublicKey, P384PublicKey};
use crate::rsa_verify::RsaPublicKey;
use serde_json::{Map, Value};

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
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl KeyMaterial {
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyMaterial::Hmac(_) => KeyKind::Hmac,
            KeyMaterial::Rsa(_) => KeyKind::Rsa,
            KeyMaterial::P256(_) => KeyKind::EcP256,
            KeyMaterial::P384(_) => KeyKind::EcP384,
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
    /// Why some keys were left out, e.g. `key 2 (kid "a"): RSA modulus is 1024 bits; at least 2048 required`.
    pub skipped: Vec<String>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`); a single JWK object is accepted too.
    /// Fails when the document is not a key set or when no key in it is usable.
    pub fn parse(json: &str) -> Result<KeySet, String> {
        let doc: Value = serde_json::from_str(json).map_err(|e| format!("not valid JSON: {e}"))?;
        let keys: Vec<Value> = match doc {
            Value::Object(mut obj) => match obj.remove("keys") {
                Some(Value::Array(keys)) => keys,
                Some(_) => return Err("\"keys\" must be an array".into()),
                None if obj.contains_key("kty") => vec![Value::Object(obj)],
                None => return Err("missing \"keys\" array".into()),
            },
            _ => return Err("a JWKS must be a JSON object".into()),
        };
        let mut set = KeySet::default();
        for (i, key) in keys.iter().enumerate() {
            let label = match key.get("kid").and_then(Value::as_str) {
                Some(kid) => format!("key {i} (kid {kid:?})"),
                None => format!("key {i}"),
            };
            if set.keys.len() >= MAX_KEYS {
                set.skipped
                    .push(format!("{label}: more than {MAX_KEYS} keys"));
                continue;
            }
            match parse_jwk(key) {
                Ok(jwk) => set.keys.push(jwk),
                Err(why) => set.skipped.push(format!("{label}: {why}")),
            }
        }
        if set.keys.is_empty() {
            let detail = set
                .skipped
                .first()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            return Err(format!("no usable key{detail}"));
        }
        Ok(set)
    }

    /// Like `parse`, for a document fetched from a URL: a JWKS served over HTTP is public, so
    /// symmetric (`oct`) keys in it are refused — anyone could mint tokens with them.
    pub fn parse_public(json: &str) -> Result<KeySet, String> {
        let mut set = KeySet::parse(json)?;
        let before = set.keys.len();
        set.keys.retain(|k| k.material.kind() != KeyKind::Hmac);
        if set.keys.len() < before {
            set.skipped
                .push("symmetric (oct) keys are not accepted from a remote JWKS".to_string());
        }
        if set.keys.is_empty() {
            return Err(
                "no usable key (symmetric (oct) keys are not accepted from a remote JWKS)".into(),
            );
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

fn parse_jwk(key: &Value) -> Result<Jwk, String> {
    let obj = key.as_object().ok_or("a key must be a JSON object")?;
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("\"kid\" must be a string".into()),
    };
    if let Some(usage) = obj.get("use") {
        if usage.as_str() != Some("sig") {
            return Err("\"use\" is not \"sig\"".into());
        }
    }
    let alg = match obj.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(
            Algorithm::from_name(name).ok_or_else(|| format!("unsupported \"alg\" {name:?}"))?,
        ),
        Some(_) => return Err("\"alg\" must be a string".into()),
    };
    let kty = str_field(obj, "kty")?;
    let material = match kty {
        "oct" => {
            let k = bytes_field(obj, "k")?;
            if k.len() < MIN_HMAC_KEY_BYTES {
                return Err(format!(
                    "HMAC key is {} bytes; at least {MIN_HMAC_KEY_BYTES} required (RFC 7518 §3.2)",
                    k.len()
                ));
            }
            KeyMaterial::Hmac(k)
        }
        "RSA" => {
            let key = RsaPublicKey::new(
                &bytes_field(obj, "n")?,
                &bytes_field(obj, "e")?,
                MAX_RSA_BITS,
            )
            .map_err(|e| format!("invalid RSA key: {e}"))?;
            if key.bits() < MIN_RSA_BITS {
                return Err(format!(
                    "RSA modulus is {} bits; at least {MIN_RSA_BITS} required",
                    key.bits()
                ));
            }
            KeyMaterial::Rsa(Box::new(key))
        }
        "EC" => {
            let crv = str_field(obj, "crv")?;
            let x = bytes_field(obj, "x")?;
            let y = bytes_field(obj, "y")?;
            match crv {
                "P-256" => {
                    // Validated twice: by the `p256` crate (as before) and by our own
                    // verifier, which checks coordinates < p and the curve equation.
                    let point = sec1_point(&x, &y, 32)?;
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| "point is not on P-256")?;
                    KeyMaterial::P256(Box::new(P256PublicKey::from_coordinates(&x, &y)?))
                }
                "P-384" => {
                    // Validated twice, as for P-256: by the `p384` crate and by our verifier.
                    let point = sec1_point(&x, &y, 48)?;
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map_err(|_| "point is not on P-384")?;
                    KeyMaterial::P384(Box::new(P384PublicKey::from_coordinates(&x, &y)?))
                }
                other => return Err(format!("unsupported curve {other:?}")),
            }
        }
        "OKP" => {
            let crv = str_field(obj, "crv")?;
            if crv != "Ed25519" {
                return Err(format!("unsupported curve {crv:?}"));
            }
            let x: [u8; 32] = bytes_field(obj, "x")?
                .try_into()
                .map_err(|_| "Ed25519 \"x\" must be 32 bytes")?;
            let key =
                ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| "invalid Ed25519 key")?;
            // A small-order point verifies forged signatures (RFC 8032 does not exclude it).
            if key.is_weak() {
                return Err("weak Ed25519 key (small-order point)".into());
            }
            KeyMaterial::Ed25519(key)
        }
        other => return Err(format!("unsupported \"kty\" {other:?}")),
    };
    let jwk = Jwk { kid, alg, material };
    if let Some(pinned) = jwk.alg {
        if pinned.key_kind() != jwk.material.kind() {
            return Err(format!("\"alg\" {pinned} does not fit a {kty} key"));
        }
    }
    Ok(jwk)
}

/// Uncompressed SEC1 encoding `04 || x || y`, after checking each coordinate's length.
fn sec1_point(x: &[u8], y: &[u8], len: usize) -> Result<Vec<u8>, String> {
    if x.len() != len || y.len() != len {
        return Err(format!("\"x\" and \"y\" must be {len} bytes"));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(point)
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string \"{name}\""))
}

fn bytes_field(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    b64::decode(str_field(obj, name)?).ok_or_else(|| format!("\"{name}\" is not base64url"))
}

#[cfg(test)]
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
        assert!(err.contains("no usable key"), "{err}");
        assert!(err.contains("at least 32"), "{err}");
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
        assert!(err.contains("does not fit"), "{err}");
    }

    #[test]
    fn unusable_keys_are_skipped_with_reasons() {
        let set = KeySet::parse(&format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}},{EC_P256},{{"kty":"EC","crv":"P-256","use":"enc","x":"AA","y":"AA"}}]}}"#
        ))
        .unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.skipped.len(), 2);
        assert!(set.skipped[0].contains("unsupported curve"));
        assert!(set.skipped[1].contains("\"use\""));
    }

    #[test]
    fn point_off_curve_is_refused() {
        let err = KeySet::parse(
            r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"}"#,
        )
        .unwrap_err();
        assert!(err.contains("not on P-256"), "{err}");
    }

    #[test]
    fn small_rsa_key_is_refused() {
        let n = b64::encode(&[0xC5u8; 128]);
        let err = KeySet::parse(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#)).unwrap_err();
        assert!(err.contains("1024 bits"), "{err}");
    }

    #[test]
    fn garbage_documents_are_errors() {
        assert!(KeySet::parse("nope").is_err());
        assert!(KeySet::parse("[]").is_err());
        assert!(KeySet::parse(r#"{"keys":{}}"#).is_err());
        assert!(KeySet::parse(r#"{"keys":[]}"#)
            .unwrap_err()
            .contains("no usable key"));
        assert!(KeySet::parse(r#"{"keys":[1,"x",null]}"#).is_err());
    }
}
