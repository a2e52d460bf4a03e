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
    let mismatch = || JoseError(format!("a `{}` key cannot sign {}", jwk.kty, alg.as_str()));
    match alg {
        Algorithm::Es256 => {
            if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
                return Err(mismatch());
            }
            let d = unb64("d", jwk.member("d", &jwk.d)?)?;
            let key = p256::ecdsa::SigningKey::from_slice(&d)
                .map_err(|_| JoseError("invalid P-256 private key".into()))?;
            let signature: p256::ecdsa::Signature = key.sign(signing_input);
            Ok(signature.to_bytes().to_vec())
        }
        Algorithm::EdDsa => {
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
        Algorithm::Rs256 => {
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
        Algorithm::Hs256 => {
            if jwk.kty != "oct" {
                return Err(mismatch());
            }
            let secret = unb64("k", jwk.member("k", &jwk.k)?)?;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret)
                .map_err(|_| JoseError("invalid HMAC key".into()))?;
            mac.update(signing_input);
            Ok(mac.finalize().into_bytes().to_vec())
        }
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
        let signature = sign(&jwk, Algorithm::Hs256, input).unwrap();
        assert_eq!(
            crate::jose::b64(&signature),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn key_type_must_fit_the_algorithm() {
        let ec = generate(Algorithm::Es256, None).unwrap();
        assert!(sign(&ec, Algorithm::Hs256, b"x").is_err());
        assert!(sign(&ec, Algorithm::EdDsa, b"x").is_err());
        let oct = generate(Algorithm::Hs256, Some("k1")).unwrap();
        assert!(sign(&oct, Algorithm::Es256, b"x").is_err());
        assert_eq!(oct.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn es256_signature_verifies() {
        use p256::ecdsa::signature::Verifier;
        let jwk = generate(Algorithm::Es256, None).unwrap();
        let signature = sign(&jwk, Algorithm::Es256, b"payload").unwrap();
        assert_eq!(signature.len(), 64);
        let d = unb64("d", jwk.d.as_deref().unwrap()).unwrap();
        let key = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&signature).unwrap();
        assert!(key.verifying_key().verify(b"payload", &sig).is_ok());
        assert!(key.verifying_key().verify(b"payloaD", &sig).is_err());
    }
}
