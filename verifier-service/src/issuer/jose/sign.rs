//! JWS signing with `jwt-simple` (its pure-Rust backend): one [`SigningKey`] type for `mint` and the
//! token issuer, so both produce tokens the same way.

use super::jwk::Jwk;
use super::{Algorithm, JoseError};
use jwt_simple::prelude::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair, Ed25519KeyPair, EdDSAKeyPairLike,
    EdDSAPublicKeyLike, HS256Key, HeaderOptions, JWTClaims, MACLike, RS256KeyPair, RSAKeyPairLike,
    RSAPublicKeyLike, VerificationOptions,
};
use serde_json::{Map, Value};
use warden_core::b64;

/// Smallest RSA modulus accepted for signing.
pub const MIN_RSA_BITS: usize = 2048;

enum Pair {
    Es256(ES256KeyPair),
    EdDSA(Ed25519KeyPair),
    Rs256(Box<RS256KeyPair>),
    Hs256(HS256Key),
}

/// A private key ready to sign, with its algorithm, `kid` and public JWK.
pub struct SigningKey {
    pair: Pair,
    alg: Algorithm,
    kid: Option<String>,
    public: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private members.
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

fn lib_error(what: &str) -> impl Fn(jwt_simple::Error) -> JoseError + '_ {
    move |e| JoseError(format!("{what}: {e}"))
}

impl SigningKey {
    /// Loads a private JWK (as `keygen` writes it). The algorithm comes from the JWK's `alg`, or
    /// from its key type when `alg` is absent; `kid` is the one given (`None`: no `kid` header).
    pub fn from_jwk(jwk: &Jwk, kid: Option<String>) -> Result<SigningKey, JoseError> {
        let alg = match (jwk.alg, jwk.kty.as_str(), jwk.crv.as_deref()) {
            (Some(alg), _, _) => alg,
            (None, "EC", Some("P-256")) => Algorithm::ES256,
            (None, "OKP", Some("Ed25519")) => Algorithm::EdDSA,
            (None, "RSA", _) => Algorithm::RS256,
            (None, "oct", _) => Algorithm::HS256,
            (None, kty, _) => {
                return super::fail(format!(
                    "the JWK (kty `{kty}`) has no `alg` and no key type this tool signs with"
                ))
            }
        };
        let mismatch = || JoseError(format!("a `{}` key cannot sign {}", jwk.kty, alg.name()));
        // jwt-simple reads the standard members only; ours adds nothing it does not know.
        let mut for_lib = jwk.clone();
        for_lib.kid = None;
        let text = serde_json::to_string(&for_lib).map_err(|e| JoseError(e.to_string()))?;
        let pair = match alg {
            Algorithm::ES256 => {
                if jwk.kty != "EC" {
                    return Err(mismatch());
                }
                Pair::Es256(
                    ES256KeyPair::from_jwk(&text)
                        .map_err(lib_error("invalid P-256 private JWK"))?,
                )
            }
            Algorithm::EdDSA => {
                if jwk.kty != "OKP" {
                    return Err(mismatch());
                }
                Pair::EdDSA(
                    Ed25519KeyPair::from_jwk(&text)
                        .map_err(lib_error("invalid Ed25519 private JWK"))?,
                )
            }
            Algorithm::RS256 => {
                if jwk.kty != "RSA" {
                    return Err(mismatch());
                }
                let n = super::unb64("n", jwk.member("n", &jwk.n)?)?;
                let bits = n.iter().position(|&b| b != 0).map_or(0, |first| {
                    let top = n.get(first).copied().unwrap_or(0);
                    (n.len() - first) * 8 - top.leading_zeros() as usize
                });
                if bits < MIN_RSA_BITS {
                    return super::fail(format!(
                        "RSA keys must have at least {MIN_RSA_BITS} bits; this one has {bits}"
                    ));
                }
                Pair::Rs256(Box::new(
                    RS256KeyPair::from_jwk(&text).map_err(lib_error("invalid RSA private JWK"))?,
                ))
            }
            Algorithm::HS256 => {
                if jwk.kty != "oct" {
                    return Err(mismatch());
                }
                let secret = super::unb64("k", jwk.member("k", &jwk.k)?)?;
                Pair::Hs256(HS256Key::from_bytes(&secret))
            }
            other => return super::fail(super::keygen::unsupported(other)),
        };
        let pair = set_kid(pair, &kid);
        let mut public = jwk.public();
        public.kid.clone_from(&kid);
        public.alg = Some(alg);
        public.key_use = Some("sig".into());
        Ok(SigningKey {
            pair,
            alg,
            kid,
            public,
        })
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public JWK (with `kid`, `alg`, `use`); for HS256 the shared secret itself.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// Whether the key is asymmetric (its public half may be published).
    pub fn is_public_key(&self) -> bool {
        !matches!(self.pair, Pair::Hs256(_))
    }

    /// A compact JWS over exactly `claims` (nothing added or reordered beyond serde's map order);
    /// the header has `alg`, `typ` and, when set, `kid`.
    pub fn sign(&self, claims: &Map<String, Value>, typ: &str) -> Result<String, JoseError> {
        let claims = JWTClaims {
            issued_at: None,
            expires_at: None,
            invalid_before: None,
            issuer: None,
            subject: None,
            audiences: None,
            jwt_id: None,
            nonce: None,
            custom: claims.clone(),
        };
        let options = HeaderOptions {
            content_type: None,
            signature_type: Some(typ.to_owned()),
        };
        let signed = match &self.pair {
            Pair::Es256(key) => key.sign_with_options(claims, &options),
            Pair::EdDSA(key) => key.sign_with_options(claims, &options),
            Pair::Rs256(key) => key.sign_with_options(claims, &options),
            Pair::Hs256(key) => key.authenticate_with_options(claims, &options),
        };
        signed.map_err(lib_error("signing failed"))
    }

    /// Verifies a token signed by this key (signature; `exp`, `nbf`, `iat` against `now`, no
    /// leeway) and returns its claims. Issuer and audience are the caller's to check.
    pub fn verify(&self, token: &str, now: i64) -> Result<Map<String, Value>, JoseError> {
        let now = u64::try_from(now).map_err(|_| JoseError("time before 1970".into()))?;
        let options = VerificationOptions {
            time_tolerance: Some(jwt_simple::prelude::Duration::from_secs(0)),
            artificial_time: Some(jwt_simple::prelude::UnixTimeStamp::from_secs(now)),
            ..VerificationOptions::default()
        };
        let error = lib_error("token does not verify");
        let claims: JWTClaims<Map<String, Value>> = match &self.pair {
            Pair::Es256(key) => key
                .public_key()
                .verify_token(token, Some(options))
                .map_err(error)?,
            Pair::EdDSA(key) => key
                .public_key()
                .verify_token(token, Some(options))
                .map_err(error)?,
            Pair::Rs256(key) => key
                .public_key()
                .verify_token(token, Some(options))
                .map_err(error)?,
            Pair::Hs256(key) => key.verify_token(token, Some(options)).map_err(error)?,
        };
        // Back to one flat claims object, as issued.
        let mut flat = claims.custom;
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                flat.insert(name.to_owned(), value);
            }
        };
        put("iat", claims.issued_at.map(|t| Value::from(t.as_secs())));
        put("exp", claims.expires_at.map(|t| Value::from(t.as_secs())));
        put(
            "nbf",
            claims.invalid_before.map(|t| Value::from(t.as_secs())),
        );
        put("iss", claims.issuer.map(Value::from));
        put("sub", claims.subject.map(Value::from));
        put("jti", claims.jwt_id.map(Value::from));
        put(
            "aud",
            claims.audiences.map(|aud| match aud {
                jwt_simple::prelude::Audiences::AsString(one) => Value::from(one),
                jwt_simple::prelude::Audiences::AsSet(set) => {
                    let mut list: Vec<String> = set.into_iter().collect();
                    list.sort();
                    Value::from(list)
                }
            }),
        );
        Ok(flat)
    }
}

fn with_kid<K>(key: K, kid: &Option<String>, set: fn(K, &str) -> K) -> K {
    match kid {
        Some(kid) => set(key, kid),
        None => key,
    }
}

fn set_kid(pair: Pair, kid: &Option<String>) -> Pair {
    match pair {
        Pair::Es256(key) => Pair::Es256(with_kid(key, kid, ES256KeyPair::with_key_id)),
        Pair::EdDSA(key) => Pair::EdDSA(with_kid(key, kid, Ed25519KeyPair::with_key_id)),
        Pair::Rs256(key) => Pair::Rs256(Box::new(with_kid(*key, kid, RS256KeyPair::with_key_id))),
        Pair::Hs256(key) => Pair::Hs256(with_kid(key, kid, HS256Key::with_key_id)),
    }
}

/// A string member of a compact JWS header, without verifying anything.
fn header_member(token: &str, name: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = b64::decode(header)?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    header.get(name)?.as_str().map(str::to_owned)
}

/// The `kid` in a compact JWS header, without verifying anything.
pub fn header_kid(token: &str) -> Option<String> {
    header_member(token, "kid")
}

/// The `typ` in a compact JWS header, without verifying anything (the signature covers it).
pub fn header_typ(token: &str) -> Option<String> {
    header_member(token, "typ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::jose::keygen::generate;

    fn split(token: &str) -> (Value, Value, Vec<u8>, String) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
        let claims = serde_json::from_slice(&b64::decode(parts[1]).unwrap()).unwrap();
        let signature = b64::decode(parts[2]).unwrap();
        (
            header,
            claims,
            signature,
            format!("{}.{}", parts[0], parts[1]),
        )
    }

    #[test]
    fn key_type_must_fit_the_algorithm() {
        let mut ec = generate(Algorithm::ES256, None).unwrap();
        ec.alg = Some(Algorithm::EdDSA);
        assert!(SigningKey::from_jwk(&ec, None).is_err());
        ec.alg = Some(Algorithm::HS256);
        assert!(SigningKey::from_jwk(&ec, None).is_err());
        let oct = generate(Algorithm::HS256, Some("k1")).unwrap();
        assert_eq!(oct.kid.as_deref(), Some("k1"));
        let mut oct = oct;
        oct.alg = Some(Algorithm::ES256);
        assert!(SigningKey::from_jwk(&oct, None).is_err());
    }

    #[test]
    fn signs_exact_claims_and_verifies_independently() {
        let keys = warden_testkit::keys();
        for alg in crate::issuer::jose::TOOL_ALGORITHMS {
            let jwk: Jwk = serde_json::from_value(keys.private_jwk(alg)).unwrap();
            let key = SigningKey::from_jwk(&jwk, Some("kid-1".into())).unwrap();
            let mut claims = Map::new();
            claims.insert("sub".into(), Value::from("alice"));
            claims.insert("ver".into(), Value::from(3));
            claims.insert("exp".into(), Value::from(4_000_000_000_i64));
            let token = key.sign(&claims, "at+jwt").unwrap();
            let (header, got, signature, input) = split(&token);
            assert_eq!(header["alg"], alg.name(), "{alg}");
            assert_eq!(header["typ"], "at+jwt", "{alg}");
            assert_eq!(header["kid"], "kid-1", "{alg}");
            assert_eq!(got, Value::Object(claims.clone()), "{alg}");
            let public = serde_json::to_value(key.public_jwk()).unwrap();
            let verify = warden_testkit::verify::verify_signature;
            assert_eq!(
                verify(&public, alg, input.as_bytes(), &signature),
                Ok(()),
                "{alg}"
            );
            assert!(verify(&public, alg, b"other", &signature).is_err(), "{alg}");
            let back = key.verify(&token, 1_000).unwrap();
            assert!(key.verify(&token, 4_000_000_001).is_err(), "expired");
            assert_eq!(back["sub"], "alice");
            assert_eq!(back["ver"], 3);
            assert_eq!(header_kid(&token).as_deref(), Some("kid-1"));
        }
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        let mut jwk: Jwk =
            serde_json::from_value(warden_testkit::keys().private_jwk(Algorithm::RS256)).unwrap();
        jwk.n = Some(b64::encode(&[0xff; 128]));
        let error = SigningKey::from_jwk(&jwk, None).unwrap_err();
        assert!(error.0.contains("2048"), "{error}");
    }

    #[test]
    fn algorithms_outside_the_tools_are_refused() {
        let mut value = warden_testkit::keys().private_jwk(Algorithm::RS256);
        value["alg"] = serde_json::json!("RS512");
        let error = serde_json::from_value::<Jwk>(value)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown variant `RS512`"), "{error}");
    }
}
