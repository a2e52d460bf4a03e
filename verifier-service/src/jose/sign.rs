//! JWS signatures (RFC 7515/7518/8037) with a private JWK.

use super::jwk::Jwk;
use super::{unb64, Algorithm, JoseError};
use hmac::Mac;
use rsa::signature::{SignatureEncoding, Signer};

fn big(jwk: &Jwk, name: &str, value: &Option<String>) -> Result<rsa::BigUint, JoseError> {
    Ok(rsa::BigUint::from_bytes_be(&unb64(
        name,
        jwk.member(name, value)?,
    )?))
}

/// Signs `signing_input` with `jwk` under `alg`; the key type must fit the algorithm.
pub fn sign(jwk: &Jwk, alg: Algorithm, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
    let mismatch = || JoseError(format!("a `{}` key cannot sign {}", jwk.kty, alg.name()));
    match alg {
        Algorithm::ES256 => {
            if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
                return Err(mismatch());
            }
            let d = unb64("d", jwk.member("d", &jwk.d)?)?;
            let key = p256::ecdsa::SigningKey::from_slice(&d)
                .map_err(|_| JoseError("invalid P-256 private key".into()))?;
            let signature: p256::ecdsa::Signature = key.sign(signing_input);
            Ok(signature.to_bytes().to_vec())
        }
        Algorithm::EdDSA => {
            if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
                return Err(mismatch());
            }
            let d = unb64("d", jwk.member("d", &jwk.d)?)?;
            let seed: [u8; 32] = d
                .as_slice()
                .try_into()
                .map_err(|_| JoseError("Ed25519 private key must be 32 bytes".into()))?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            Ok(ed25519_dalek::Signer::sign(&key, signing_input)
                .to_bytes()
                .to_vec())
        }
        Algorithm::RS256 => {
            if jwk.kty != "RSA" {
                return Err(mismatch());
            }
            let key = rsa::RsaPrivateKey::from_components(
                big(jwk, "n", &jwk.n)?,
                big(jwk, "e", &jwk.e)?,
                big(jwk, "d", &jwk.d)?,
                vec![big(jwk, "p", &jwk.p)?, big(jwk, "q", &jwk.q)?],
            )
            .map_err(|e| JoseError(format!("invalid RSA private key: {e}")))?;
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
            Ok(signer.sign(signing_input).to_vec())
        }
        Algorithm::HS256 => {
            if jwk.kty != "oct" {
                return Err(mismatch());
            }
            let secret = unb64("k", jwk.member("k", &jwk.k)?)?;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret)
                .map_err(|_| JoseError("invalid HMAC key".into()))?;
            mac.update(signing_input);
            Ok(mac.finalize().into_bytes().to_vec())
        }
        other => super::fail(super::keygen::unsupported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::keygen::generate;

    #[test]
    fn hs256_matches_rfc7515_appendix_a1() {
        let mut jwk = Jwk::empty("oct");
        jwk.k = Some(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow".into(),
        );
        let input = b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let signature = sign(&jwk, Algorithm::HS256, input).unwrap();
        assert_eq!(
            warden_core::b64::encode(&signature),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn key_type_must_fit_the_algorithm() {
        let ec = generate(Algorithm::ES256, None).unwrap();
        assert!(sign(&ec, Algorithm::HS256, b"x").is_err());
        assert!(sign(&ec, Algorithm::EdDSA, b"x").is_err());
        let oct = generate(Algorithm::HS256, Some("k1")).unwrap();
        assert!(sign(&oct, Algorithm::ES256, b"x").is_err());
        assert_eq!(oct.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn signs_like_the_test_kit_and_verifies_independently() {
        // Every tool algorithm is deterministic (RFC 6979 ECDSA, Ed25519, PKCS#1 v1.5, HMAC), so
        // the production signer must produce the kit's signature byte for byte.
        let keys = warden_testkit::keys();
        for alg in crate::jose::TOOL_ALGORITHMS {
            let jwk: Jwk = serde_json::from_value(keys.private_jwk(alg)).unwrap();
            assert_eq!(jwk.alg, Some(alg));
            let signature = sign(&jwk, alg, b"payload").unwrap();
            assert_eq!(signature, keys.signature(alg, b"payload"), "{alg}");
            let public = serde_json::to_value(jwk.public()).unwrap();
            let verify = warden_testkit::verify::verify_signature;
            assert_eq!(
                verify(&public, alg, b"payload", &signature),
                Ok(()),
                "{alg}"
            );
            assert!(
                verify(&public, alg, b"payloaD", &signature).is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn algorithms_outside_the_tools_are_refused() {
        let jwk: Jwk =
            serde_json::from_value(warden_testkit::keys().private_jwk(Algorithm::RS256)).unwrap();
        let error = sign(&jwk, Algorithm::PS256, b"x").unwrap_err();
        assert!(error.0.contains("not PS256"), "{error}");
        let mut value = warden_testkit::keys().private_jwk(Algorithm::RS256);
        value["alg"] = serde_json::json!("RS512");
        let error = serde_json::from_value::<Jwk>(value)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown variant `RS512`"), "{error}");
    }
}
